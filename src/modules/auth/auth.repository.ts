import type { Queryable } from '../../platform/db/index.js';
import type { Role } from '../../shared/principal.js';

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  createdAt: Date;
}

export interface UserWithPassword extends User {
  passwordHash: string;
}

const USER_COLUMNS = 'id, email, name, role, created_at AS "createdAt"';

export async function insertUser(
  db: Queryable,
  user: { email: string; name: string; role: Role; passwordHash: string },
): Promise<User | undefined> {
  // ON CONFLICT on the lower(email) index: a concurrent duplicate registration returns no row.
  const { rows } = await db.query<User>(
    `INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4)
     ON CONFLICT ((lower(email))) DO NOTHING
     RETURNING ${USER_COLUMNS}`,
    [user.email, user.name, user.role, user.passwordHash],
  );
  return rows[0];
}

export async function findUserByEmail(db: Queryable, email: string): Promise<UserWithPassword | undefined> {
  const { rows } = await db.query<UserWithPassword>(
    `SELECT ${USER_COLUMNS}, password_hash AS "passwordHash" FROM users WHERE lower(email) = lower($1)`,
    [email],
  );
  return rows[0];
}

/** The account's role now, or undefined when the account no longer exists (one index probe). */
export async function roleOf(db: Queryable, id: string): Promise<Role | undefined> {
  const { rows } = await db.query<{ role: Role }>('SELECT role FROM users WHERE id = $1', [id], { name: 'user-role' });
  return rows[0]?.role;
}

/** The account's role and password hash now, or undefined when the account no longer exists (one index probe). */
export async function signInStateOf(db: Queryable, id: string): Promise<{ role: Role; passwordHash: string } | undefined> {
  const { rows } = await db.query<{ role: Role; passwordHash: string }>('SELECT role, password_hash AS "passwordHash" FROM users WHERE id = $1', [id], {
    name: 'user-sign-in-state',
  });
  return rows[0];
}

export async function findUserById(db: Queryable, id: string): Promise<User | undefined> {
  const { rows } = await db.query<User>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return rows[0];
}

/** The users among `ids` that exist, in one statement. */
export async function findUsersByIds(db: Queryable, ids: readonly string[]): Promise<User[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<User>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ANY($1::uuid[])`, [ids], { name: 'find-users' });
  return rows;
}

export async function insertRefreshToken(
  db: Queryable,
  token: { userId: string; familyId: string; tokenHash: string; ttlSeconds: number },
): Promise<void> {
  await db.query(
    `INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
     VALUES ($1, $2, $3, now() + make_interval(secs => $4))`,
    [token.userId, token.familyId, token.tokenHash, token.ttlSeconds],
  );
}

/**
 * Marks a live token used and returns it; the guard makes this succeed for exactly one
 * caller even when the same token is presented concurrently.
 *
 * A family with any revoked token is revoked as a whole. A revocation (reuse, logout, password
 * reset) is one UPDATE of the rows it sees; a refresh committing meanwhile adds a successor that
 * UPDATE never sees, while the token that refresh rotated, which it waited for, ends revoked. So
 * the successor stays unrevoked, and only this check keeps it from rotating on.
 */
export async function claimRefreshToken(
  db: Queryable,
  tokenHash: string,
): Promise<{ userId: string; familyId: string } | undefined> {
  const { rows } = await db.query<{ userId: string; familyId: string }>(
    `UPDATE refresh_tokens t SET used_at = now()
     WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
       AND NOT EXISTS (SELECT FROM refresh_tokens r WHERE r.family_id = t.family_id AND r.revoked_at IS NOT NULL)
     RETURNING user_id AS "userId", family_id AS "familyId"`,
    [tokenHash],
  );
  return rows[0];
}

export async function findRefreshToken(
  db: Queryable,
  tokenHash: string,
): Promise<{ familyId: string; used: boolean } | undefined> {
  const { rows } = await db.query<{ familyId: string; used: boolean }>(
    `SELECT family_id AS "familyId", used_at IS NOT NULL AS used FROM refresh_tokens WHERE token_hash = $1`,
    [tokenHash],
  );
  return rows[0];
}

/** Revokes every refresh token of the account: all its sessions end at their next refresh. */
export async function revokeAllOfUser(db: Queryable, userId: string): Promise<number> {
  const { rowCount } = await db.query('UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [userId]);
  return rowCount;
}

/**
 * Replaces the account's password hash, only while it is still `expectedHash` (the one the current
 * password was checked against): false when another change came first, or the account is gone.
 */
export async function replacePasswordHash(db: Queryable, userId: string, expectedHash: string, passwordHash: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2', [userId, expectedHash, passwordHash]);
  return rowCount > 0;
}

export async function revokeFamily(db: Queryable, familyId: string): Promise<number> {
  const { rowCount } = await db.query(
    'UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL',
    [familyId],
  );
  return rowCount;
}

/**
 * Deletes up to `families` logins' refresh tokens once they can refresh no more: a family's newest
 * token is its only unused one, so once that has expired nothing in it can be rotated, and its
 * rows (kept until then for reuse detection and revocation) are done with. Oldest first, through
 * the index of unused tokens by expiry; answers how many families went.
 */
export async function pruneRefreshTokens(db: Queryable, families: number): Promise<number> {
  const { rows } = await db.query<{ families: number }>(
    // An array rather than IN (subquery): the DELETE then probes the family index, where a join
    // with the CTE was planned as a read of the whole table.
    `WITH dead AS (
       SELECT ARRAY(SELECT family_id FROM refresh_tokens WHERE used_at IS NULL AND expires_at < now() ORDER BY expires_at LIMIT $1) AS ids),
     gone AS (DELETE FROM refresh_tokens WHERE family_id = ANY ((SELECT ids FROM dead)::uuid[]))
     SELECT cardinality(ids) AS families FROM dead`,
    [families],
  );
  return rows[0]?.families ?? 0;
}
