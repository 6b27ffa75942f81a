import type { Metrics } from '../../platform/metrics.js';
import { ConflictError, NotFoundError } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import { isAdmin, type Principal } from '../../shared/principal.js';
import { toPage, type Page } from '../../shared/pagination.js';
import type { Order, VersionedOrder } from './order.js';
import type { OrderCache } from './order-cache.js';
import { topicOf, type ClaimedEvent, type OrderTopic } from './order-events.js';
import { sourcesOf, STOCK_EFFECT_ON_ENTRY, type OrderStatus } from './order-status.js';
import * as repo from './orders.repository.js';
import { transitionAtomically, transitionManyAtomically } from './transition-order.repository.js';
import { createPlaceOrder, type PlaceOrderDeps } from './place-order.js';

export interface OrdersServiceDeps extends PlaceOrderDeps {
  orderCache: OrderCache;
  /** Topics someone consumes; a transition writes its outbox event only then (default: every topic). */
  subscribedTopics?: ReadonlySet<OrderTopic>;
  /** Topics whose events start jobs; others are written already published, for the event stream only (default: every topic). */
  jobTopics?: ReadonlySet<OrderTopic>;
  metrics: Pick<Metrics, 'orderPlaced' | 'orderCancelled' | 'cacheLookup'>;
}

const orderNotFound = () => new NotFoundError('ORDER_NOT_FOUND', 'No such order');
const canSee = (principal: Principal, order: { userId: string }) => isAdmin(principal) || order.userId === principal.userId;

export type OrdersService = ReturnType<typeof createOrdersService>;

export function createOrdersService(deps: OrdersServiceDeps) {
  const { db, orderCache, logger } = deps;

  /**
   * What entering `to` writes to the outbox: its event at all (someone subscribes), unpublished (a
   * job must start), and then claimed for this process's relay when it can publish at once.
   */
  const eventOf = (to: OrderStatus) => ({
    publish: deps.subscribedTopics?.has(topicOf(to)) ?? true,
    startsJobs: deps.jobTopics?.has(topicOf(to)) ?? true,
    claimEventSeconds: deps.claimCommittedEvents?.() ?? 0,
  });
  /** Wakes this process's relay after a commit that wrote `to`'s event, handing it what was written claimed for it. */
  const eventsCommitted = (to: OrderStatus, claimed: readonly ClaimedEvent[]) =>
    deps.onEventsCommitted?.(topicOf(to), claimed.length > 0 ? claimed : undefined);

  /**
   * Reads an order the caller may see, from the cache when it holds a copy. Answers the JSON
   * text itself: the hot path serves cached bytes without parsing and re-serialising them.
   */
  async function getOrder(principal: Principal, id: string): Promise<{ json: string; cache: 'HIT' | 'MISS' }> {
    if (!isUuid(id)) throw orderNotFound();
    // The cache is keyed by the id as stored (lower case); an id written in capitals is the same order.
    const orderId = id.toLowerCase();
    const cached = await orderCache.get(orderId);
    deps.metrics.cacheLookup(cached ? 'hit' : 'miss');
    if (cached) {
      // Ownership is checked on the cached copy too: the cache is shared by all users.
      if (!canSee(principal, cached)) throw orderNotFound();
      return { json: cached.json, cache: 'HIT' };
    }
    // Durable: this copy is cached (see ReadOptions).
    const found = await repo.findOrder(db, orderId, { durable: true });
    if (!found || !canSee(principal, found.order)) throw orderNotFound();
    const json = JSON.stringify(found.order);
    await orderCache.put(found, json);
    return { json, cache: 'MISS' };
  }

  async function listOrders(
    principal: Principal,
    query: { scope: 'mine' | 'all'; status?: OrderStatus | undefined; limit: number; after: { createdAt: string; id: string } | undefined },
  ): Promise<Page<Order>> {
    const everyone = query.scope === 'all' && isAdmin(principal);
    const rows = await repo.listOrders(db, {
      userId: everyone ? undefined : principal.userId,
      status: query.status,
      after: query.after,
      limit: query.limit,
    });
    return toPage(rows, query.limit, (row) => row.order, (row) => [row.order.createdAt, row.order.id]);
  }

  /**
   * The one way an order's status changes: one guarded statement moves the order, settles its
   * stock as the new status requires and records its outbox event (so a duplicate or late
   * request is a no-op); then the cached copy is replaced before anyone is told (`cached` says
   * whether that worked). Returns undefined when the order was not in a status that allows the
   * move (or is not `ownerId`'s).
   */
  async function transitionOrder(
    orderId: string,
    to: OrderStatus,
    options: { failureReason?: string; ownerId?: string } = {},
  ): Promise<(VersionedOrder & { cached: boolean }) | undefined> {
    const event = eventOf(to);
    const moved = await transitionAtomically(db, { orderId, from: sourcesOf(to), to, stockEffect: STOCK_EFFECT_ON_ENTRY[to], ...event, ...options });
    if (!moved) return undefined;
    const { claimed, ...entry } = moved;
    if (event.publish) eventsCommitted(to, claimed);
    const cached = await orderCache.put(entry);
    if (!cached) logger.warn('order cache not updated after a status change', { orderId, status: to });
    return { ...entry, cached };
  }

  /**
   * `transitionOrder` for many orders at once (one statement, one cache round trip): the ones
   * whose status allows the move move, the others are left out of the result. `failureReasons`
   * by order id; `voidPayments`: the moved orders' charges are to be voided (recorded with the move).
   */
  async function transitionOrders(
    orderIds: readonly string[],
    to: OrderStatus,
    failureReasons?: ReadonlyMap<string, string>,
    options: { voidPayments?: boolean } = {},
  ): Promise<(VersionedOrder & { cached: boolean })[]> {
    const { moved, cached } = await transitionOrdersEagerly(orderIds, to, failureReasons, options);
    const stored = await cached;
    return moved.map((entry, i) => ({ ...entry, cached: stored[i] ?? false }));
  }

  /**
   * `transitionOrders` answering once the statement has committed; `cached` settles when the
   * cache holds the new copies (whether each was stored). For a step whose caller goes on
   * meanwhile: cached copies are versioned, so a later change's copy is never overwritten by
   * this one, whichever write lands first.
   */
  async function transitionOrdersEagerly(
    orderIds: readonly string[],
    to: OrderStatus,
    failureReasons?: ReadonlyMap<string, string>,
    options: { voidPayments?: boolean } = {},
  ): Promise<{ moved: VersionedOrder[]; cached: Promise<boolean[]> }> {
    const ids = [...new Set(orderIds)];
    const event = eventOf(to);
    const { moved, claimed } = await transitionManyAtomically(db, {
      orderIds: ids,
      from: sourcesOf(to),
      to,
      stockEffect: STOCK_EFFECT_ON_ENTRY[to],
      ...event,
      ...(failureReasons ? { failureReasons: ids.map((id) => failureReasons.get(id) ?? null) } : {}),
      ...(options.voidPayments ? { voidPayments: true } : {}),
    });
    if (event.publish && moved.length > 0) eventsCommitted(to, claimed);
    const cached = Promise.all(moved.map((entry) => orderCache.put(entry))).then((stored) => {
      if (stored.includes(false)) logger.warn('order cache not updated after a status change', { orders: stored.filter((ok) => !ok).length, status: to });
      return stored;
    });
    return { moved, cached };
  }

  async function cancelOrder(principal: Principal, orderId: string): Promise<Order> {
    if (!isUuid(orderId)) throw orderNotFound();
    const ownerId = isAdmin(principal) ? undefined : principal.userId;
    const cancelled = await transitionOrder(orderId, 'cancelled', ownerId ? { ownerId } : {});
    if (cancelled) {
      deps.metrics.orderCancelled();
      return cancelled.order;
    }
    // The statement refused on a status it saw, which may be a commit the standby never got;
    // answering only once the standby holds it keeps a refusal from outliving a failover.
    const current = await repo.findOrder(db, orderId, { durable: true });
    if (!current || !canSee(principal, current.order)) throw orderNotFound();
    throw new ConflictError('ORDER_NOT_CANCELLABLE', `Only pending orders can be cancelled; this one is ${current.order.status}`);
  }

  /** For background work, which acts on behalf of the system rather than a caller. */
  async function findOrder(orderId: string): Promise<VersionedOrder | undefined> {
    return repo.findOrder(db, orderId);
  }

  const findOrders = (orderIds: readonly string[]) => repo.findOrders(db, orderIds);

  /** `refreshCachedOrder` for many orders: one read, one cache round trip. */
  async function refreshCachedOrders(orderIds: readonly string[]): Promise<void> {
    if (orderIds.length === 0) return;
    const current = await repo.findOrders(db, orderIds, { durable: true });
    const cached = await Promise.all(current.map((entry) => orderCache.put(entry)));
    if (cached.includes(false)) throw new Error(`${cached.filter((ok) => !ok).length} orders: cache could not be updated`);
  }

  /** Puts the database's copy in the cache; throws when the cache cannot be reached, so a job retries. */
  async function refreshCachedOrder(orderId: string): Promise<void> {
    const current = await repo.findOrder(db, orderId, { durable: true });
    if (current && !(await orderCache.put(current))) throw new Error(`order ${orderId}: cache could not be updated`);
  }

  const findStalledOrderIds = (olderThanSeconds: number) => repo.findStalledOrderIds(db, olderThanSeconds);
  const findUnfinishedOrderIds = (page: { afterId: string | undefined; limit: number }) => repo.findUnfinishedOrderIds(db, page);
  const processingLagSeconds = () => repo.oldestUnprocessedAgeSeconds(db);

  const placeOrder = createPlaceOrder(deps);

  return {
    placeOrder,
    getOrder,
    listOrders,
    cancelOrder,
    transitionOrder,
    transitionOrders,
    transitionOrdersEagerly,
    findOrder,
    findOrders,
    refreshCachedOrder,
    refreshCachedOrders,
    findStalledOrderIds,
    findUnfinishedOrderIds,
    processingLagSeconds,
  };
}
