import { pruneRefreshTokens } from '../modules/auth/index.js';
import { pruneEvents } from '../modules/events/index.js';
import { findMissingEmails, orderEmailJob, recordOwedEmails, type MissingEmailsCursor } from '../modules/notifications/index.js';
import { processOrderJob, pruneIdempotencyKeys, type OrdersService } from '../modules/orders/index.js';
import { findStalledVoids, pruneVoids, reopenEarlyVoids, voidPaymentJob, type StalledVoidsCursor } from '../modules/payments/index.js';
import { pruneDeliveries } from '../modules/webhooks/index.js';
import type { Database } from '../platform/db/index.js';
import type { Logger } from '../platform/logger.js';
import { errorFields } from '../platform/logger.js';
import { putEach, type JobQueue, type JobSpec } from '../platform/queue/index.js';
import { pruneOutbox } from '../platform/outbox.js';
import { startRound, type Round } from './reconcile-round.js';

interface ReconcileDeps {
  db: Database;
  orders: Pick<OrdersService, 'findStalledOrderIds'>;
  queue: JobQueue;
  logger?: Logger;
  /**
   * Where the walk through unsent emails stands, kept by the caller from round to round (each
   * round takes the next page, then starts again from the oldest); without it, every round takes
   * the oldest page.
   */
  emailWalk?: Walk<MissingEmailsCursor>;
  /** Aborted when the process stops: the round ends after the statement in flight (no more batches or steps). */
  signal?: AbortSignal | undefined;
  /** The same for the owed payment voids (a void the provider keeps refusing stays owed, and oldest). */
  voidWalk?: Walk<StalledVoidsCursor>;
}

/** Where a walk through owed work stands between rounds: after the last item taken (none: from the oldest). */
interface Walk<Cursor> {
  after?: Cursor;
  pageSize?: number;
}

/** A page of owed work, after `after` when given; `next` is where the following page starts (undefined at the end). */
type FindPage<Item, Cursor> = (page: { after?: Cursor; limit?: number }) => Promise<{ items: readonly Item[]; next: Cursor | undefined }>;

/**
 * Enqueues a job for each item of the walk's next page, then moves the walk on: only once the
 * page's jobs are in, so a round that lost the queue half-way takes the same page again. A job
 * refused on its own is not waited for: the walk comes back to it after its last page. Without a
 * walk, every round takes the oldest page.
 */
async function enqueueNextPage<Item, Cursor>(deps: ReconcileDeps, walk: Walk<Cursor> | undefined, find: FindPage<Item, Cursor>, jobOf: (item: Item) => JobSpec): Promise<Item[]> {
  const { items, next } = await find({ ...(walk?.after ? { after: walk.after } : {}), ...(walk?.pageSize ? { limit: walk.pageSize } : {}) });
  const enqueued = await ensureEach(deps, items, jobOf);
  if (walk) walk.after = next;
  return enqueued;
}

/** Published outbox rows are kept this long (for operators reading what was sent). */
const OUTBOX_RETENTION_DAYS = 7;
/** Finished webhook deliveries are kept this long (GET /api/webhooks/:id/deliveries, redelivery). */
const WEBHOOK_DELIVERY_RETENTION_DAYS = 30;
/** Payment voids are kept this long after the provider confirmed them (who was refunded, and when); owed ones stay. */
const PAYMENT_VOID_RETENTION_DAYS = 30;
/** Rows per retention statement, and statements per round: a backlog after downtime is worked off over rounds, in short statements. */
const PRUNE_BATCH = 5_000;
const PRUNE_MAX_BATCHES = 20;
/** Refresh-token families per statement are this many times fewer than rows: a family has a row for each refresh it had. */
const ROWS_PER_REFRESH_FAMILY = 10;

/** Emails owed but never recorded are looked for among the orders finished this recently (see recordOwedEmails). */
const OWED_EMAILS_FINISHED_WITHIN_HOURS = 1;

/** The outbox's due rows, batch after batch from its oldest id, until the rows are recent. */
async function pruneOutboxRows(db: Database, size: number, signal: AbortSignal | undefined): Promise<void> {
  let afterId = 0;
  for (let i = 0; i < PRUNE_MAX_BATCHES && !signal?.aborted; i++) {
    const { lastId, reachedRecent } = await pruneOutbox(db, { olderThanDays: OUTBOX_RETENTION_DAYS, afterId, size });
    if (lastId === undefined || reachedRecent) return;
    afterId = lastId;
  }
}

/** Runs `prune` (a batch of `size` at most, oldest first) until a batch comes back short, or PRUNE_MAX_BATCHES, or the stop. */
async function pruneInBatches(prune: (size: number) => Promise<number>, size: number, signal: AbortSignal | undefined): Promise<void> {
  for (let i = 0; i < PRUNE_MAX_BATCHES && !signal?.aborted; i++) if ((await prune(size)) < size) return;
}

/**
 * Re-enqueues every unfinished order, unsent email and owed payment void untouched for
 * `olderThanSeconds`, each kind a step of its own (`round.run`), and logs how many.
 */
async function enqueueUnfinished(deps: ReconcileDeps, round: Round, olderThanSeconds: number, message: string): Promise<void> {
  const orders =
    (await round.run(
      're-enqueue stalled orders',
      async () => ensureEach(deps, await deps.orders.findStalledOrderIds(olderThanSeconds), (orderId) => processOrderJob([orderId])),
      'enqueues',
    )) ?? [];
  const owedEmails = (page: { after?: MissingEmailsCursor; limit?: number }) =>
    findMissingEmails(deps.db, olderThanSeconds, page).then(({ emails, next }) => ({ items: emails, next }));
  const owed =
    (await round.run(
      're-enqueue owed emails',
      () => enqueueNextPage(deps, deps.emailWalk, owedEmails, ({ orderId, kind }) => orderEmailJob([orderId], kind)),
      'enqueues',
    )) ?? [];
  // A charge approved after its order's void ran, by a job that then died, is voided by a second
  // void once any charge in flight at the give-up has been decided (see reopenEarlyVoids).
  await round.run('reopen early voids', () => reopenEarlyVoids(deps.db, olderThanSeconds));
  const owedVoids = (page: { after?: StalledVoidsCursor; limit?: number }) =>
    findStalledVoids(deps.db, olderThanSeconds, page).then(({ orderIds, next }) => ({ items: orderIds, next }));
  const voids =
    (await round.run('re-enqueue owed voids', () => enqueueNextPage(deps, deps.voidWalk, owedVoids, (orderId) => voidPaymentJob([orderId])), 'enqueues')) ?? [];
  const jobs = orders.length + owed.length + voids.length;
  if (jobs > 0) {
    // Recovery should be visible: counts at info, the ids at debug.
    deps.logger?.info(message, { orders: orders.length, emails: owed.length, voids: voids.length, jobs });
    deps.logger?.debug(`${message}: ids`, { orderIds: orders, emails: owed.map(({ orderId, kind }) => `${kind}:${orderId}`), voids });
  }
}

/**
 * Ensures the job of each item, and answers the items whose jobs went in. A job refused on its
 * own (Redis answered with an error about its key, or its stored job could not be read) is
 * logged, one line for all of them, and the rest still go in: the next round tries it again. A
 * queue out of reach ends the round, as before.
 */
async function ensureEach<Item>(deps: Pick<ReconcileDeps, 'queue' | 'logger'>, items: readonly Item[], jobOf: (item: Item) => JobSpec): Promise<Item[]> {
  const jobs = items.map(jobOf);
  const refused = await putEach(deps.queue, jobs, (job) => deps.queue.ensure(job));
  if (refused.length > 0) {
    deps.logger?.warn('reconciler could not re-enqueue some unfinished work; the next round tries again', {
      jobs: refused.length,
      jobIds: refused.map(({ job }) => job.id),
      ...errorFields(refused[0]!.error),
    });
  }
  const left = new Set(refused.map(({ job }) => job));
  return items.filter((_, index) => !left.has(jobs[index]!));
}

/**
 * Re-enqueues work the database says is unfinished but the queue may have lost (a Redis
 * flush, an outage during publishing, jobs that used up their retries on an SMTP outage):
 * orders still pending/processing, emails owed and still pending, and payment voids still owed
 * (a provider outage longer than a `void-payment` job's retries). Everything it enqueues is
 * idempotent, so running it too often only costs a little work. Then it prunes what is past its
 * retention, even when the queue could not be reached (the database can). Each of these is a
 * step that runs whether or not the others failed, unless the database is down (startRound).
 * `recordOwedEmails`: first record the emails owed by recent orders that finished without their
 * row (only a previous version finishes so), for the rounds that do it (background.ts: every
 * 10 minutes).
 */
export async function reconcileOnce(
  deps: ReconcileDeps & { olderThanSeconds: number; eventsRetentionHours: number; recordOwedEmails?: boolean; pruneBatch?: number },
): Promise<number> {
  const round = startRound(deps);
  if (deps.recordOwedEmails) {
    const recorded = await round.run('record owed emails', () => recordOwedEmails(deps.db, OWED_EMAILS_FINISHED_WITHIN_HOURS));
    if (recorded) deps.logger?.warn('finished orders had no email on record (finished by a previous version); recorded', { emails: recorded });
  }
  await enqueueUnfinished(deps, round, deps.olderThanSeconds, 'reconciler picked up unfinished work');
  const size = deps.pruneBatch ?? PRUNE_BATCH;
  await round.run('prune the outbox', () => pruneOutboxRows(deps.db, size, deps.signal));
  // Order events past their retention: here rather than in the relay's round, where a large
  // delete held up publishing.
  await round.run('prune order events', () => pruneInBatches((batch) => pruneEvents(deps.db, deps.eventsRetentionHours, batch), size, deps.signal));
  await round.run('prune webhook deliveries', () => pruneInBatches((batch) => pruneDeliveries(deps.db, WEBHOOK_DELIVERY_RETENTION_DAYS, batch), size, deps.signal));
  await round.run('prune payment voids', () => pruneInBatches((batch) => pruneVoids(deps.db, PAYMENT_VOID_RETENTION_DAYS, batch), size, deps.signal));
  const families = Math.max(1, Math.floor(size / ROWS_PER_REFRESH_FAMILY));
  await round.run('prune refresh tokens', () => pruneInBatches((batch) => pruneRefreshTokens(deps.db, batch), families, deps.signal));
  // In batches like the rest: one DELETE of every due key ran as long as the backlog took (holding
  // the keys' row locks against a placement re-using one), and past the statement timeout deleted none.
  await round.run('prune idempotency keys', () => pruneInBatches((batch) => pruneIdempotencyKeys(deps.db, batch), size, deps.signal));
  round.finish();
  // Never "work done": startLoop would run the next round at once, re-enqueueing the same
  // unfinished orders before their jobs could run. The next round comes at its interval.
  return 0;
}

/** Rows per read of a start-up's resume. */
const RESUME_PAGE = 500;

/**
 * The embedded default's queue lives in this process, and only this process can open the
 * data: whatever is unfinished at start-up was left by the last run (its queue went with it),
 * so all of it is resumed at once, page after page, and said so, instead of waiting for the
 * reconciler (which takes one page of work untouched for RECONCILE_AFTER_SECONDS a round).
 */
export async function resumeUnfinishedWork(
  deps: Omit<ReconcileDeps, 'orders'> & { orders: Pick<OrdersService, 'findUnfinishedOrderIds'>; logger: Logger; ordersPageSize?: number },
): Promise<void> {
  const limit = deps.ordersPageSize ?? RESUME_PAGE;
  const emailWalk: { after?: MissingEmailsCursor; pageSize?: number } = { pageSize: deps.emailWalk?.pageSize ?? RESUME_PAGE };
  let orders = 0;
  let emails = 0;
  let voids = 0;
  try {
    for (let afterId: string | undefined, page = limit; page === limit; ) {
      const ids = await deps.orders.findUnfinishedOrderIds({ afterId, limit });
      orders += (await ensureEach(deps, ids, (orderId) => processOrderJob([orderId]))).length;
      page = ids.length;
      afterId = ids.at(-1);
    }
    do {
      const page = await findMissingEmails(deps.db, 0, { limit: emailWalk.pageSize!, ...(emailWalk.after ? { after: emailWalk.after } : {}) });
      emails += (await ensureEach(deps, page.emails, ({ orderId, kind }) => orderEmailJob([orderId], kind))).length;
      emailWalk.after = page.next;
    } while (emailWalk.after);
    // Owed voids are few (only give-ups owe one): the oldest ones at once, the rest by the reconciler.
    const owed = await findStalledVoids(deps.db, 0, { limit: RESUME_PAGE });
    voids = (await ensureEach(deps, owed.orderIds, (orderId) => voidPaymentJob([orderId]))).length;
  } catch (error) {
    deps.logger.warn('could not resume unfinished work at start-up; the reconciler will', errorFields(error));
  }
  if (orders + emails + voids > 0) deps.logger.info('resuming work left unfinished by the last run', { orders, emails, voids, jobs: orders + emails + voids });
}
