import { execFileSync } from 'node:child_process';

/**
 * The machine's PostgreSQL 15 binaries (Debian's `postgresql-15`), which the tests' private
 * servers and the topology's nodes run.
 */
export const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * The `postgres` user to run PostgreSQL as when this process is root (PostgreSQL refuses to run
 * as root); undefined otherwise, to run it as ourselves.
 */
export function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}
