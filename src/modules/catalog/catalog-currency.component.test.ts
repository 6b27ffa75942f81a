import { describe, expect, it } from 'vitest';
import { capturingLogger } from '../../../test/logs.js';
import { createTestDatabase, testConfig } from '../../../test/harness.js';
import { openRuntime } from '../../runtime.js';
import { StartupError } from '../../shared/startup-error.js';
import { seedDemoCatalog } from './index.js';

/**
 * Placement prices an order from the catalog and stamps it with CURRENCY: a catalog priced in
 * another currency would charge its amounts in the wrong one (12.00 USD billed as 12.00 EUR).
 */
describe('the catalog currency at start-up', () => {
  it.each([
    ['differs from CURRENCY', 'EUR', true],
    ['is CURRENCY', 'USD', false],
  ])('when the catalog is priced in USD and it %s (%s), then start-up is refused: %s', async (_what, currency, refused) => {
    const database = await createTestDatabase('postgres');
    try {
      await seedDemoCatalog(database.db, 'USD');
      const config = testConfig({ DATABASE_URL: database.url!, CURRENCY: currency });
      const opening = openRuntime(config, capturingLogger('error').logger);
      if (refused) {
        const error = await opening.then(
          async (runtime) => {
            await runtime.close();
            throw new Error(`start-up with CURRENCY=${currency} went ahead on a USD catalog`);
          },
          (failure: unknown) => failure,
        );
        expect(error).toBeInstanceOf(StartupError);
        expect((error as Error).message).toMatch(/^The catalog is priced in USD, but CURRENCY=EUR: .*set CURRENCY=USD/);
        expect((error as Error).message).not.toMatch(/[\r\n]/);
      } else {
        await (await opening).close();
      }
    } finally {
      await database.drop();
    }
  });
});
