import type { Database } from '../../platform/db/index.js';
import type { Logger } from '../../platform/logger.js';
import { errorFields } from '../../platform/logger.js';
import { moveEventPositionsPast } from './order-events.repository.js';

/**
 * How far past the remembered mark positions move: more than any process hands out between two
 * raises of the mark (one a second; the bench's peak is a few thousand events a second).
 */
export const POSITION_MARGIN = 1_000_000;

/** The highest event position handed out, as remembered outside the database. */
export interface PositionMark {
  read(): Promise<number | undefined>;
}

/**
 * At start-up, before this process serves or sequences anything: when the database's event
 * positions are behind the mark (a database restored in place; or a new database on a Redis
 * prefix used before), they move past it and `dropCachedOrders` runs (cached orders may be newer
 * than the restored rows, and their versions would refuse the fresher copies). Said in one
 * warning. A mark that cannot be read (Redis unreachable) skips the check, said too: start-up
 * does not wait on Redis.
 */
export async function realignEventPositions(deps: { db: Database; mark: PositionMark; dropCachedOrders: () => Promise<number>; logger: Logger }): Promise<void> {
  let handedOut: number | undefined;
  try {
    handedOut = await deps.mark.read();
  } catch (error) {
    deps.logger.warn('could not read the order event positions handed out before (Redis); a database restored in place is not checked this start', errorFields(error));
    return;
  }
  if (handedOut === undefined) return;
  const movedTo = await moveEventPositionsPast(deps.db, handedOut, POSITION_MARGIN);
  if (movedTo === undefined) return;
  const dropped = await deps.dropCachedOrders().catch(() => 0);
  deps.logger.warn(
    'order event positions were behind those already handed out (a database restored in place, or a new database on a Redis prefix used before): moved past them, cached orders dropped',
    { handedOut, movedTo, droppedCachedOrders: dropped },
  );
}
