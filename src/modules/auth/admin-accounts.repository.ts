import type { Queryable } from '../../platform/db/index.js';

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
  await db.query('UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [user.id]);
  return true;
}

export async function adminExists(db: Queryable): Promise<boolean> {
  const { rows } = await db.query("SELECT 1 FROM users WHERE role = 'admin' LIMIT 1");
  return rows.length > 0;
}
