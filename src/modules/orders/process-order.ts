import type { Logger } from '../../platform/logger.js';
import { batchJobId, jobsInBatches, type JobHandler, type JobSpec } from '../../platform/queue/index.js';
import type { PaymentProvider, PaymentVoids } from '../payments/index.js';
import type { Order } from './order.js';
import type { OrderStatus } from './order-status.js';
import type { OrdersService } from './orders.service.js';

export const PROCESS_ORDER = 'process-order';

/** One job processes a batch of orders: at a high rate one job (and one statement per step) carries many. */
export type ProcessOrderJob = JobSpec<typeof PROCESS_ORDER, { orderIds: readonly string[] }>;

/** Orders per job: enough to amortise a job's and a statement's fixed cost, few enough to keep retries small. */
export const PROCESS_ORDER_BATCH = 50;

/** Deterministic ids: a batch of one is `process-order-<orderId>` (what the reconciler enqueues too). */
export function processOrderJob(orderIds: readonly string[]): ProcessOrderJob {
  return { name: PROCESS_ORDER, id: batchJobId(PROCESS_ORDER, orderIds), data: { orderIds } };
}

/** The jobs for `orderIds`, PROCESS_ORDER_BATCH at a time. */
export function processOrderJobs(orderIds: readonly string[]): ProcessOrderJob[] {
  return jobsInBatches(orderIds, PROCESS_ORDER_BATCH, processOrderJob);
}

const enteredAt = (order: Order, status: OrderStatus) => order.history.findLast((change) => change.status === status)?.at ?? order.updatedAt;
const secondsBetween = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;

const GAVE_UP_REASON = 'Processing failed after repeated errors; any payment taken is refunded';

type Orders = Pick<OrdersService, 'findOrders' | 'transitionOrders' | 'transitionOrdersEagerly' | 'refreshCachedOrders'>;

/**
 * pending → processing → payment → completed | failed, for a batch of orders. Each step is one
 * guarded statement for the whole batch, so a redelivered or duplicated job finds its orders
 * further along and does only what is left; an order cancelled meanwhile is left alone. A
 * payment that could not be decided leaves its order `processing` while the others finish,
 * and the job is retried for it.
 *
 * A charge must never stand for an order that did not complete. A give-up (`exhausted`) fails
 * the orders first and records, in the same statement, that their charges are to be voided;
 * the `void-payment` job (started by the `order.failed` event, enqueued again by the reconciler
 * while owed) voids them. Failing first closes the race with another job charging the same
 * order: that job's charge is approved either before the void (which undoes it) or after the
 * order failed, and then its `completed` move finds the order failed and it records the void
 * again itself. A completed order is never voided.
 */
export function createProcessOrder(deps: {
  orders: Orders;
  payments: PaymentProvider;
  voids: Pick<PaymentVoids, 'voidSoon'>;
  logger: Logger;
  onFinished?: (status: 'completed' | 'failed', placedAt: string) => void;
  /** Seconds an order spent in a stage, from its own history (the database's clock). */
  onStage?: (stage: 'placed_to_processing' | 'processing_to_finished', seconds: number) => void;
}): JobHandler<ProcessOrderJob['data']> {
  const { orders, payments, voids, logger } = deps;

  /**
   * The batch's orders that are this job's to charge: the ones it moved, and on a retry those
   * still processing. The payments do not wait for the `processing` copies to be cached
   * (`cached`, awaited before the job ends): they are versioned, so the outcome's copy wins.
   */
  async function ordersToCharge(orderIds: readonly string[]): Promise<{ batch: Order[]; cached: Promise<unknown> }> {
    const { moved: entries, cached } = await orders.transitionOrdersEagerly(orderIds, 'processing');
    const moved = entries.map((entry) => entry.order);
    for (const order of moved) deps.onStage?.('placed_to_processing', secondsBetween(order.createdAt, enteredAt(order, 'processing')));
    if (moved.length === orderIds.length) return { batch: moved, cached };
    const movedIds = new Set(moved.map((order) => order.id));
    const others = await orders.findOrders(orderIds.filter((id) => !movedIds.has(id)));
    // Finished earlier (a redelivery) or cancelled: make sure the cache agrees, nothing else…
    await orders.refreshCachedOrders(others.filter((entry) => entry.order.status !== 'processing').map((entry) => entry.order.id));
    // …but an order given up meanwhile may carry a charge from this job's attempt that died
    // after charging (its void may have run before that charge): it is voided again.
    await voids.voidSoon(others.filter((entry) => entry.order.status === 'failed').map((entry) => entry.order.id), { onlyGivenUp: true });
    return { batch: [...moved, ...others.filter((entry) => entry.order.status === 'processing').map((entry) => entry.order)], cached };
  }

  /** Moves the orders to `to`; answers the ids that moved. */
  async function finish(to: 'completed' | 'failed', orderIds: string[], reasons?: ReadonlyMap<string, string>): Promise<Set<string>> {
    if (orderIds.length === 0) return new Set();
    const moved = await orders.transitionOrders(orderIds, to, reasons);
    // The job is done only once the cache shows the outcome: a failed write (or a transition
    // made elsewhere) is repaired from the database, and if that fails too the job retries.
    const movedIds = new Set(moved.map((entry) => entry.order.id));
    await orders.refreshCachedOrders([...moved.filter((entry) => !entry.cached).map((entry) => entry.order.id), ...orderIds.filter((id) => !movedIds.has(id))]);
    for (const { order } of moved) {
      logger.info(`order ${to}`, { orderId: order.id });
      deps.onFinished?.(to, order.createdAt);
      deps.onStage?.('processing_to_finished', secondsBetween(enteredAt(order, 'processing'), enteredAt(order, to)));
    }
    return movedIds;
  }

  return {
    async run({ orderIds }) {
      const { batch, cached } = await ordersToCharge(orderIds);
      // The order id is the payment's idempotency key: a retry after a crash never charges twice.
      const decisions = await Promise.allSettled(
        batch.map((order) => payments.charge({ orderId: order.id, amountCents: order.totalCents, currency: order.currency })),
      );
      const approved: string[] = [];
      const declined = new Map<string, string>();
      const undecided: Error[] = [];
      decisions.forEach((decision, i) => {
        const orderId = batch[i]!.id;
        if (decision.status === 'rejected') undecided.push(decision.reason instanceof Error ? decision.reason : new Error(String(decision.reason)));
        else if (decision.value.outcome === 'approved') approved.push(orderId);
        else declined.set(orderId, decision.value.reason);
      });
      const completed = await finish('completed', approved);
      // Approved, yet no longer `processing`: given up (or cancelled) while this job charged. Its
      // charge must not stand; voidSoon leaves out an order that is `completed` (a duplicate job
      // completed it with this same idempotent charge).
      await voids.voidSoon(approved.filter((id) => !completed.has(id)));
      await finish('failed', [...declined.keys()], declined);
      await cached;
      if (undecided.length > 0) throw new Error(`${undecided.length} of ${batch.length} payments undecided: ${undecided[0]!.message}`);
    },
    /**
     * Never leave an order stuck: when retries run out, what is not finished fails, its stock is
     * released and its charge, if an attempt made one, is to be voided (recorded with the move).
     */
    async exhausted({ orderIds }, error) {
      await orders.transitionOrders(orderIds, 'processing');
      const failed = await orders.transitionOrders(orderIds, 'failed', new Map(orderIds.map((id) => [id, GAVE_UP_REASON])), { voidPayments: true });
      // As in finish(): a cache write that failed is repaired from the database, or the cache
      // would show `processing` until its copy expires.
      await orders.refreshCachedOrders(failed.filter((entry) => !entry.cached).map((entry) => entry.order.id));
      for (const { order } of failed) {
        logger.error('order failed after exhausting retries', { orderId: order.id, lastError: error.message });
        deps.onFinished?.('failed', order.createdAt);
      }
    },
  };
}
