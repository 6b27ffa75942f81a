import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { loadConfig } from '../config/index.js';
import { exitOnStartupFailure } from '../lifecycle.js';
import { createAdmin, demote, listAdmins, resetPassword } from '../modules/auth/index.js';
import { migrate, openDatabase } from '../platform/db/index.js';

const USAGE =
  'Usage: npm run admin -- create <email> | reset-password <email> | demote <email> | list   (a password is read from standard input, or generated and printed once)';

const HELP = new Set(['help', '--help', '-h']);
const command = z.union([z.tuple([z.enum(['create', 'reset-password', 'demote']), z.email()]), z.tuple([z.literal('list')])]);
const password = z.string().min(8, 'must be at least 8 characters').max(128, 'must be at most 128 characters');

class UsageError extends Error {}

/**
 * The password piped in (`echo "$PW" | npm run admin -- …`), or, when nothing is piped, a
 * generated one. A password is never taken from the command line, where `ps` and shell
 * history would keep it.
 */
async function readPassword(): Promise<{ value: string; generated: boolean }> {
  let piped = '';
  if (!process.stdin.isTTY) {
    for await (const chunk of process.stdin) piped += String(chunk);
  }
  piped = piped.replace(/\r?\n$/, '');
  if (piped === '') return { value: randomBytes(12).toString('base64url'), generated: true };
  const checked = password.safeParse(piped);
  if (!checked.success) throw new UsageError(`The password on standard input ${checked.error.issues[0]?.message ?? 'is invalid'}`);
  return { value: piped, generated: false };
}

/** `npm run admin -- create | reset-password | demote <email>` or `list`, on the configured database. */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.length === 1 && HELP.has(args[0]!)) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const parsed = command.safeParse(args);
  if (!parsed.success) throw new UsageError(USAGE);
  const [action, email] = parsed.data;
  const config = loadConfig();
  const db = await openDatabase({ url: config.db.url, poolMax: 1, statementTimeoutMs: config.db.statementTimeoutMs, dataDir: config.dataDir, oneShot: true });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  try {
    await migrate(db);
    let chosen: { value: string; generated: boolean } | undefined;
    const ask = async () => (chosen = await readPassword()).value;
    const shown = () => (chosen?.generated ? ` with password ${chosen.value} (shown once)` : '');
    if (action === 'list') {
      // One admin per line (email, then when the account was created): easy to read and to cut.
      for (const admin of await listAdmins(db)) say(`${admin.email}\t${admin.createdAt}`);
    } else if (action === 'create') {
      const outcome = await createAdmin(db, email, ask, config.passwordHashProfile);
      if (outcome === 'created') say(`Created admin ${email}${shown()}`);
      else if (outcome === 'promoted') say(`${email} is now an admin; its password is unchanged (set one with: npm run admin -- reset-password ${email})`);
      else throw new UsageError(`${email} is already an admin; to set a new password: npm run admin -- reset-password ${email}`);
    } else if (action === 'demote') {
      const outcome = await demote(db, email);
      if (outcome === 'demoted') say(`${email} is now a customer; its admin rights ended at once, its sessions go on as a customer's`);
      else if (outcome === 'last-admin') throw new UsageError(`${email} is the only admin; make another first with: npm run admin -- create <email>`);
      else if (outcome === 'not-admin') throw new UsageError(`${email} is not an admin`);
      else throw new UsageError(`No account has the email ${email}`);
    } else {
      if (!(await resetPassword(db, email, await ask(), config.passwordHashProfile))) throw new UsageError(`No account has the email ${email}; create one with: npm run admin -- create ${email}`);
      say(`New password set for ${email}${shown()}; its sessions were signed out`);
    }
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  exitOnStartupFailure('npm run admin')(error);
});
