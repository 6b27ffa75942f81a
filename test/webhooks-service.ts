import { afterAll, beforeAll } from 'vitest';
import { createWebhooksService, type WebhooksService } from '../src/modules/webhooks/webhooks.service.js';
import { createTestDatabase, type StorageKind, type TestDatabase } from './harness.js';

/**
 * The webhooks service on a database of the file's own (private URLs allowed, 3 attempts), made
 * before the tests of the `describe` that calls this and dropped after them.
 */
export function webhooksServiceOn(kind: StorageKind): { database: TestDatabase; webhooks: WebhooksService } {
  const context = {} as { database: TestDatabase; webhooks: WebhooksService };
  beforeAll(async () => {
    context.database = await createTestDatabase(kind);
    context.webhooks = createWebhooksService({ db: context.database.db, allowPrivateUrls: true, maxAttempts: 3 });
  });
  afterAll(async () => {
    await context.database.drop();
  });
  return context;
}
