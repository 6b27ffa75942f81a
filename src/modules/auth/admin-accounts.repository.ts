import type { Queryable } from '../../platform/db/index.js';
import { revokeAllOfUser } from './auth.repository.js';

/** Makes an existing account an admin; returns false when no account has that email. */
export async function promoteToAdmin(db: Queryable, email: string): Promise<boolean> {
  const { rowCount } = await db.query("UPDATE users SET role = 'admin' WHERE lower(email) = lower($1)", [email]);
  return rowCount > 0;
}

/**
 * Sets a new password and revokes every refresh token of the account, so sessions started with
 * the old password end (access tokens still run out within their 15 minutes).
 */
export async function replacePassword(db: Queryable, email: string, passwordHash: string): Promise<boolean> {
  const { rows } = await db.query<{ id: string }>('UPDATE users SET password_hash = $2 WHERE lower(email) = lower($1) RETURNING id', [email, passwordHash]);
  const user = rows[0];
  if (!user) return false;
  await revokeAllOfUser(db, user.id);
  return true;
}

/** What a demotion did; `last-admin` changed nothing (no one could manage the shop any more). */
export type DemoteOutcome = 'demoted' | 'last-admin' | 'not-admin' | 'no-account';

/**
 * Makes an admin a customer, unless it is the only admin. Every admin row is locked first, so
 * two demotions at once cannot each see the other as the admin left.
 */
export async function demoteAdmin(tx: Queryable, email: string): Promise<DemoteOutcome> {
  const { rows: admins } = await tx.query<{ id: string; target: boolean }>(
    "SELECT id, lower(email) = lower($1) AS target FROM users WHERE role = 'admin' ORDER BY id FOR UPDATE",
    [email],
  );
  const target = admins.find((admin) => admin.target);
  if (!target) {
    const { rows } = await tx.query('SELECT 1 FROM users WHERE lower(email) = lower($1)', [email]);
    return rows.length > 0 ? 'not-admin' : 'no-account';
  }
  if (admins.length === 1) return 'last-admin';
  await tx.query("UPDATE users SET role = 'customer' WHERE id = $1", [target.id]);
  return 'demoted';
}

/** Every admin account, oldest first: what `npm run admin -- list` prints. */
export async function listAdmins(db: Queryable): Promise<{ email: string; createdAt: string }[]> {
  const { rows } = await db.query<{ email: string; createdAt: string }>(
    `SELECT email, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "createdAt"
     FROM users WHERE role = 'admin' ORDER BY created_at, id`,
  );
  return rows;
}

export async function adminExists(db: Queryable): Promise<boolean> {
  const { rows } = await db.query("SELECT 1 FROM users WHERE role = 'admin' LIMIT 1");
  return rows.length > 0;
}
