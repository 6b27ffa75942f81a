import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/harness.js';
import { waitUntil } from '../../../test/wait.js';
import { replacePassword } from './admin-accounts.repository.js';
import { claimRefreshToken, insertRefreshToken, revokeFamily } from './auth.repository.js';

/**
 * A revocation that runs while a refresh of the same family commits: the revoking UPDATE waits
 * for the token the refresh rotates, then revokes it, but never sees the successor the refresh
 * inserted. That successor must still be refused. PostgreSQL only: PGlite runs one transaction at
 * a time, so a revocation there cannot overlap a refresh.
 */
describe('revoking a refresh token family while a refresh of it commits, on postgres', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('postgres', 3);
  });
  afterAll(async () => {
    await database.drop();
  });

  async function newFamily(): Promise<{ userId: string; email: string; familyId: string; tokenHash: string }> {
    const userId = randomUUID();
    const email = `${userId}@example.com`;
    await database.db.query("INSERT INTO users (id, email, name, role, password_hash) VALUES ($1, $2, 'Holder', 'customer', 'x')", [userId, email]);
    const familyId = randomUUID();
    const tokenHash = randomUUID();
    await insertRefreshToken(database.db, { userId, familyId, tokenHash, ttlSeconds: 3600 });
    return { userId, email, familyId, tokenHash };
  }

  /**
   * Rotates `tokenHash` in a transaction held open until `revoke` is waiting on its row lock, then
   * commits; answers the successor's hash once both are done.
   */
  async function rotateDuring(family: { userId: string; familyId: string; tokenHash: string }, revoke: () => Promise<unknown>): Promise<string> {
    const successor = randomUUID();
    let revoking: Promise<unknown> | undefined;
    await database.db.transaction(async (tx) => {
      expect(await claimRefreshToken(tx, family.tokenHash)).toEqual({ userId: family.userId, familyId: family.familyId });
      await insertRefreshToken(tx, { userId: family.userId, familyId: family.familyId, tokenHash: successor, ttlSeconds: 3600 });
      revoking = revoke();
      await waitUntil(
        async () => {
          const { rows } = await database.db.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE refresh_tokens SET revoked_at%'`,
          );
          return Number(rows[0]!.n) > 0;
        },
        10_000,
        'the revocation to wait for the rotated token',
      );
    });
    await revoking;
    return successor;
  }

  it('theft detection or logout (the family revoked): the successor cannot be refreshed', async () => {
    const family = await newFamily();
    const successor = await rotateDuring(family, () => revokeFamily(database.db, family.familyId));
    expect(await claimRefreshToken(database.db, successor)).toBeUndefined();
  });

  it('a password reset (every token of the account revoked): the successor cannot be refreshed', async () => {
    const family = await newFamily();
    const successor = await rotateDuring(family, () => replacePassword(database.db, family.email, 'new-hash'));
    expect(await claimRefreshToken(database.db, successor)).toBeUndefined();
  });

  it('a family nobody revoked rotates on', async () => {
    const family = await newFamily();
    const successor = randomUUID();
    await claimRefreshToken(database.db, family.tokenHash);
    await insertRefreshToken(database.db, { userId: family.userId, familyId: family.familyId, tokenHash: successor, ttlSeconds: 3600 });
    expect(await claimRefreshToken(database.db, successor)).toEqual({ userId: family.userId, familyId: family.familyId });
  });
});
