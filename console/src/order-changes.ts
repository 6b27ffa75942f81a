import type { Order, OrderStatus } from './types.js';

/**
 * Whether `candidate` is an older copy of `current`: every status change appends to the history
 * and moves `updatedAt` on, so a copy read earlier (a list answer overtaken by the stream, a
 * repeated event) never replaces a newer one.
 */
export function isOlder(candidate: Order, current: Order): boolean {
  if (candidate.history.length !== current.history.length) return candidate.history.length < current.history.length;
  return candidate.updatedAt < current.updatedAt;
}

/**
 * A newest-first list with one order's change applied: replaced, or inserted in its place, while
 * it fits the status filter; dropped once it no longer does. An older copy changes nothing, and an
 * order older than every loaded one waits for "Older orders" when there are more to load.
 */
export function applyChange(list: Order[], changed: Order, filter: OrderStatus | '', moreToLoad: boolean): Order[] {
  const known = list.find((order) => order.id === changed.id);
  if (known && isOlder(changed, known)) return list;
  const fits = !filter || changed.status === filter;
  if (known) return fits ? list.map((order) => (order === known ? changed : order)) : list.filter((order) => order !== known);
  if (!fits) return list;
  const at = list.findIndex((item) => item.createdAt < changed.createdAt);
  if (at === -1) return moreToLoad ? list : [...list, changed];
  return [...list.slice(0, at), changed, ...list.slice(at)];
}
