/**
 * The order lifecycle, declared as data. Every status change goes through a guarded
 * `UPDATE … WHERE status IN (allowed sources)`, so these tables are the only way status moves.
 */
export const ORDER_STATUSES = ['pending', 'processing', 'completed', 'failed', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending: ['processing', 'cancelled'],
  processing: ['completed', 'failed'],
  completed: [],
  failed: [],
  cancelled: [],
};

/** What entering a status does to the order's reserved stock. */
export const STOCK_EFFECT_ON_ENTRY: Readonly<Partial<Record<OrderStatus, 'release' | 'sale'>>> = {
  completed: 'sale',
  failed: 'release',
  cancelled: 'release',
};

export type OrderEmailKind = 'order_confirmation' | 'order_failure';

/**
 * The email entering a status owes the customer: exactly one per outcome. The statement that
 * moves the order records it (as unsent), so no owed email exists only in a queue.
 */
export const EMAIL_OWED_ON_ENTRY: Readonly<Partial<Record<OrderStatus, OrderEmailKind>>> = {
  completed: 'order_confirmation',
  failed: 'order_failure',
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

/** The statuses an order may be in for a move to `to` to be allowed. */
export function sourcesOf(to: OrderStatus): OrderStatus[] {
  return ORDER_STATUSES.filter((from) => canTransition(from, to));
}

/** A status the order never leaves. */
export function isTerminalStatus(status: OrderStatus): boolean {
  return ORDER_TRANSITIONS[status].length === 0;
}
