import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api, messageOf } from '../api.js';
import { ErrorMessage, Loading, PageTitle, StatusBadge, useAction } from '../components.js';
import { money, recent, shortId, when } from '../format.js';
import { useLiveOrders } from '../live.js';
import { applyChange } from '../order-changes.js';
import { ORDER_STATUSES, type Order, type OrderStatus, type Page } from '../types.js';

const PAGE_SIZE = 20;

/**
 * A list of orders, newest first, paged with the API's cursor and kept live: a change to a
 * listed order replaces it, a new order that fits the filter is added in its place, and a list
 * answer never undoes a newer change that arrived while it was on its way.
 */
function OrderList({ scope, title }: { scope: 'mine' | 'all'; title: string }) {
  const orders = useSignal<Order[] | null>(null);
  const nextCursor = useSignal<string | null>(null);
  const status = useSignal<OrderStatus | ''>('');
  const error = useSignal<string | null>(null);
  const loadingMore = useSignal(false);

  const query = (cursor: string | null) => {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (scope === 'all') params.set('scope', 'all');
    if (status.value) params.set('status', status.value);
    if (cursor) params.set('cursor', cursor);
    return `/api/orders?${params.toString()}`;
  };

  // Each reload has a number: an answer overtaken by a newer reload (another filter) is dropped.
  const generation = useRef(0);
  // The changes the stream and this page brought while a reload was on its way, applied again
  // over its answer, which may have been read before them.
  const changedMeanwhile = useRef<Order[] | null>(null);
  const apply = (list: Order[], changed: Order) => applyChange(list, changed, status.value, nextCursor.value !== null);
  const changeArrived = (changed: Order) => {
    changedMeanwhile.current?.push(changed);
    orders.value = apply(orders.value ?? [], changed);
  };

  const reload = () => {
    const mine = ++generation.current;
    changedMeanwhile.current = [];
    return api<Page<Order>>(query(null)).then(
      (page) => {
        if (mine !== generation.current) return;
        // Keep the pages already loaded below the first one.
        const firstIds = new Set(page.items.map((order) => order.id));
        const older = (orders.value ?? []).slice(PAGE_SIZE).filter((order) => !firstIds.has(order.id));
        if (older.length === 0) nextCursor.value = page.nextCursor;
        orders.value = (changedMeanwhile.current ?? []).reduce(apply, [...page.items, ...older]);
        changedMeanwhile.current = null;
        error.value = null;
      },
      (caught: unknown) => {
        if (mine !== generation.current) return;
        changedMeanwhile.current = null;
        error.value = messageOf(caught);
      },
    );
  };

  // Another filter's list is not shown while this one loads, nor an earlier read's error: the
  // page says it is loading.
  useEffect(() => {
    orders.value = null;
    error.value = null;
    void reload();
  }, [status.value]);

  async function loadMore() {
    if (!nextCursor.value) return;
    loadingMore.value = true;
    const filter = status.value;
    error.value = null;
    try {
      const page = await api<Page<Order>>(query(nextCursor.value));
      // The filter changed meanwhile: these are older orders of another list.
      if (filter !== status.value) return;
      const known = new Set((orders.value ?? []).map((order) => order.id));
      orders.value = [...(orders.value ?? []), ...page.items.filter((order) => !known.has(order.id))];
      nextCursor.value = page.nextCursor;
    } catch (caught) {
      // Nor is their failure shown over the list of another filter.
      if (filter === status.value) error.value = messageOf(caught);
    } finally {
      loadingMore.value = false;
    }
  }

  useLiveOrders(
    scope === 'all' ? '/api/orders/events?scope=all' : '/api/orders/events',
    changeArrived,
    () => void reload(),
  );

  // The Cancel button goes away with the pending status: focus moves to the status it changed (not
  // <body>, where keyboard and screen-reader users would be left), and the change is announced.
  const announcement = useSignal('');
  const focusStatusOf = useRef<string | null>(null);
  const table = useRef<HTMLTableElement>(null);
  useEffect(() => {
    const id = focusStatusOf.current;
    if (!id) return;
    focusStatusOf.current = null;
    // A list filtered to pending orders drops the cancelled one: its heading takes focus then.
    (table.current?.querySelector<HTMLElement>(`tr[data-order-id="${id}"] .status-cell`) ?? document.querySelector<HTMLElement>('#main h1'))?.focus();
  });
  const cancelling = useAction();
  const cancel = (order: Order) =>
    cancelling.run(async () => {
      error.value = null;
      try {
        const cancelled = await api<Order>(`/api/orders/${order.id}/cancel`, { method: 'POST' });
        focusStatusOf.current = order.id;
        announcement.value = `Order ${shortId(order.id)} cancelled.`;
        changeArrived(cancelled);
      } catch (caught) {
        error.value = messageOf(caught);
      }
    });

  return (
    <main id="main">
      <PageTitle>{title}</PageTitle>
      <div class="toolbar">
        <label class="field inline">
          <span class="label">Status</span>
          <select value={status.value} onChange={(e) => (status.value = e.currentTarget.value as OrderStatus | '')}>
            <option value="">All statuses</option>
            {ORDER_STATUSES.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorMessage message={error.value} />
      <p class="visually-hidden" role="status">
        {announcement.value}
      </p>
      {orders.value === null ? (
        error.value ? null : <Loading what="orders" />
      ) : orders.value.length === 0 ? (
        <p class="muted">No orders{status.value ? ` with status ${status.value}` : ''} yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="orders" ref={table}>
            <caption class="visually-hidden">{title}; changes appear as they happen</caption>
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col">Status</th>
                <th scope="col" class="hide-phone">Items</th>
                <th scope="col" class="num">Total</th>
                <th scope="col">Placed</th>
                {scope === 'all' ? <th scope="col" class="hide-phone">Customer</th> : null}
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody aria-live="polite" aria-relevant="additions">
              {orders.value.map((order) => (
                <tr key={order.id} data-order-id={order.id}>
                  <td>
                    <a href={`#/orders/${order.id}`} class="mono">
                      {shortId(order.id)}
                    </a>
                  </td>
                  <td class="status-cell" tabIndex={-1}>
                    <StatusBadge status={order.status} />
                  </td>
                  <td class="hide-phone">{order.items.map((item) => `${item.quantity} × ${item.name}`).join(', ')}</td>
                  <td class="num">{money(order.totalCents, order.currency)}</td>
                  <td>
                    <time dateTime={order.createdAt} title={when(order.createdAt)}>
                      {/* A phone's table has no room for the seconds (a two-digit hour pushed them past the edge). */}
                      <span class="hide-phone">{recent(order.createdAt)}</span>
                      <span class="phone-only">{recent(order.createdAt, { seconds: false })}</span>
                    </time>
                  </td>
                  {scope === 'all' ? <td class="mono hide-phone">{shortId(order.userId)}</td> : null}
                  <td>
                    {order.status === 'pending' ? (
                      <button type="button" class="small" disabled={cancelling.pending.value} onClick={() => void cancel(order)} aria-label={`Cancel order ${shortId(order.id)}`}>
                        Cancel
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {nextCursor.value ? (
        <button type="button" onClick={() => void loadMore()} disabled={loadingMore.value}>
          {loadingMore.value ? 'Loading…' : 'Older orders'}
        </button>
      ) : null}
    </main>
  );
}

export const MyOrdersPage = () => <OrderList scope="mine" title="My orders" />;
export const AllOrdersPage = () => <OrderList scope="all" title="All orders" />;
