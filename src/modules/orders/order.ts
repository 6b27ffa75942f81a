import { createHash } from 'node:crypto';
import type { OrderStatus } from './order-status.js';

export interface OrderItem {
  productId: string;
  sku: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
  lineTotalCents: number;
}

export interface StatusChange {
  status: OrderStatus;
  at: string;
}

/** The order as clients see it (contract shape). */
export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  items: OrderItem[];
  totalCents: number;
  currency: string;
  failureReason: string | null;
  history: StatusChange[];
  createdAt: string;
  updatedAt: string;
}

/** An order with its version, which increases with every status change (for the cache). */
export interface VersionedOrder {
  version: number;
  order: Order;
}

/**
 * The order as its placement answered it: `pending`, with the first change of its history only.
 * A replayed Idempotency-Key answers this whatever the order's status is now.
 */
export function asPlaced(order: Order): Order {
  const placed: StatusChange = order.history[0] ?? { status: 'pending', at: order.createdAt };
  return { ...order, status: 'pending', failureReason: null, history: [placed], updatedAt: order.createdAt };
}

export interface RequestedLine {
  productId: string;
  quantity: number;
}

/** Lines for the same product are merged; the first occurrence keeps its position. */
export function mergeLines(lines: readonly RequestedLine[]): RequestedLine[] {
  const merged = new Map<string, number>();
  for (const line of lines) {
    const productId = line.productId.toLowerCase();
    merged.set(productId, (merged.get(productId) ?? 0) + line.quantity);
  }
  return [...merged].map(([productId, quantity]) => ({ productId, quantity }));
}

/** Prices come from the catalog row locked for this order, never from the request. */
export function priceLines(
  lines: readonly RequestedLine[],
  catalog: ReadonlyMap<string, { sku: string; name: string; priceCents: number }>,
): OrderItem[] {
  return lines.map((line) => {
    const product = catalog.get(line.productId);
    if (!product) throw new Error(`unpriced line ${line.productId}`);
    return {
      productId: line.productId,
      sku: product.sku,
      name: product.name,
      quantity: line.quantity,
      unitPriceCents: product.priceCents,
      lineTotalCents: product.priceCents * line.quantity,
    };
  });
}

export function totalOf(items: readonly OrderItem[]): number {
  return items.reduce((sum, item) => sum + item.lineTotalCents, 0);
}

/** Identifies a placement request for Idempotency-Key comparison: same merged lines ⇒ same hash. */
export function requestFingerprint(lines: readonly RequestedLine[]): string {
  const canonical = [...lines].sort((a, b) => a.productId.localeCompare(b.productId)).map((l) => `${l.productId}:${l.quantity}`);
  return createHash('sha256').update(canonical.join(',')).digest('hex');
}
