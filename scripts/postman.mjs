// Runs postman_collection.json with newman against a service that is already running.
//
//   BASE_URL        where the service listens (default http://localhost:5000)
//   ADMIN_EMAIL     an admin account: the service's own ADMIN_EMAIL / ADMIN_PASSWORD
//   ADMIN_PASSWORD  (it creates that admin at start-up)
//
//   ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD=… npm run postman
//
// Exits non-zero when any request or assertion fails.
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';
import newman from 'newman';

const baseUrl = (process.env.BASE_URL ?? 'http://localhost:5000').replace(/\/+$/, '');
const adminEmail = process.env.ADMIN_EMAIL ?? '';
const adminPassword = process.env.ADMIN_PASSWORD ?? '';
if (!adminEmail || !adminPassword) {
  process.stderr.write('Set ADMIN_EMAIL and ADMIN_PASSWORD (the admin the service was started with) to run the collection.\n');
  process.exit(2);
}

const collection = JSON.parse(readFileSync(new URL('../postman_collection.json', import.meta.url), 'utf8'));

newman.run(
  {
    collection,
    envVar: [
      { key: 'baseUrl', value: baseUrl },
      { key: 'adminEmail', value: adminEmail },
      { key: 'adminPassword', value: adminPassword },
    ],
    reporters: ['cli'],
    timeoutRequest: 30_000,
  },
  (error, summary) => {
    if (error) {
      process.stderr.write(`newman could not run the collection: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    if (summary.run.failures.length > 0) process.exitCode = 1;
  },
);
