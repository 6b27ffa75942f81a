import type { Database } from '../../platform/db/index.js';
import { adminExists, demoteAdmin, listAdmins, promoteToAdmin, replacePassword, type DemoteOutcome } from './admin-accounts.repository.js';
import { findUserByEmail, insertUser } from './auth.repository.js';
import { hashPassword, type PasswordHashProfile } from './passwords.js';

export { adminExists, listAdmins, type DemoteOutcome };

/** What `npm run admin -- create` did. A promoted customer keeps the password it had. */
export type CreateAdminOutcome = 'created' | 'promoted' | 'already-admin';

/**
 * The operator's way in when the bootstrap admin is lost or was never created (a fresh
 * PostgreSQL database without ADMIN_EMAIL). `password` is asked for only when an account is
 * actually created, so a generated one is never printed for nothing.
 */
export async function createAdmin(
  db: Database,
  email: string,
  password: () => Promise<string>,
  profile: PasswordHashProfile,
): Promise<CreateAdminOutcome> {
  const existing = await findUserByEmail(db, email);
  if (existing?.role === 'admin') return 'already-admin';
  if (existing) {
    await promoteToAdmin(db, email);
    return 'promoted';
  }
  const created = await insertUser(db, { email, name: 'Administrator', role: 'admin', passwordHash: await hashPassword(await password(), profile) });
  // A concurrent creation of the same email won the insert; it is an account all the same.
  return created ? 'created' : 'already-admin';
}

/** Sets a new password (and ends the account's sessions); false when no account has that email. */
export async function resetPassword(db: Database, email: string, password: string, profile: PasswordHashProfile): Promise<boolean> {
  const passwordHash = await hashPassword(password, profile);
  return db.transaction((tx) => replacePassword(tx, email, passwordHash));
}

/**
 * Makes an admin a customer (`npm run admin -- demote`). Its sessions go on as a customer's: admin
 * rights are read from the account on every request that uses them, so they end at once.
 */
export async function demote(db: Database, email: string): Promise<DemoteOutcome> {
  return db.transaction((tx) => demoteAdmin(tx, email));
}
