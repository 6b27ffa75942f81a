import { computed, effect, signal } from '@preact/signals';
import { currentUser } from './api.js';
import type { Order, Product } from './types.js';

export interface CartLine {
  product: Product;
  quantity: number;
}

/** A price that changed after its product went into the cart (the first price the cart showed, and now). */
export interface PriceChange {
  productId: string;
  name: string;
  fromCents: number;
  toCents: number;
  currency: string;
}

/** The cart lives in memory for this tab, like the session. */
export const cartLines = signal<CartLine[]>([]);
export const cartCount = computed(() => cartLines.value.reduce((sum, line) => sum + line.quantity, 0));
/** Prices changed since their products went into the cart, until the order is placed or the line removed. */
export const priceChanges = signal<PriceChange[]>([]);
export const cartTotalCents = computed(() => cartLines.value.reduce((sum, line) => sum + line.quantity * line.product.priceCents, 0));

/**
 * One Idempotency-Key per cart content: a double click or a retry after a lost answer sends the
 * same key (so at most one order), while any change to the cart makes the next order a new one.
 */
let idempotencyKey: string | null = null;

function randomKey(): string {
  // getRandomValues works on plain-http hosts too, where crypto.randomUUID does not exist.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export function orderKey(): string {
  idempotencyKey ??= `console-${randomKey()}`;
  return idempotencyKey;
}

function setLines(lines: CartLine[]): void {
  idempotencyKey = null;
  cartLines.value = lines.filter((line) => line.quantity > 0);
  const kept = new Set(cartLines.value.map((line) => line.product.id));
  if (priceChanges.value.some((change) => !kept.has(change.productId))) priceChanges.value = priceChanges.value.filter((change) => kept.has(change.productId));
}

const sameProduct = (a: Product, b: Product) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Brings the cart's products up to date from a fresh read of the catalog (price, name, what is
 * available) and returns the prices that changed since the cart last showed them. The order's
 * body (product ids, quantities) is unchanged, and so is its Idempotency-Key: the server prices
 * an order from the catalog anyway; this is so the cart shows what will be charged.
 */
export function updateCartProducts(fresh: readonly Product[]): PriceChange[] {
  const byId = new Map(fresh.map((product) => [product.id, product]));
  const found: PriceChange[] = [];
  let changed = false;
  const lines = cartLines.value.map((line) => {
    const now = byId.get(line.product.id);
    if (!now || sameProduct(now, line.product)) return line;
    changed = true;
    if (now.priceCents !== line.product.priceCents) {
      found.push({ productId: now.id, name: now.name, fromCents: line.product.priceCents, toCents: now.priceCents, currency: now.currency });
    }
    return { ...line, product: now };
  });
  if (!changed) return found;
  cartLines.value = lines;
  if (found.length > 0) {
    // A product whose price changed twice keeps the price the cart first showed; one back at it is no change.
    const earlier = new Map(priceChanges.value.map((change) => [change.productId, change]));
    for (const change of found) earlier.set(change.productId, { ...change, fromCents: earlier.get(change.productId)?.fromCents ?? change.fromCents });
    priceChanges.value = [...earlier.values()].filter((change) => change.fromCents !== change.toCents);
  }
  return found;
}

/** An order the server priced otherwise than the cart showed (a price changed as it was placed). */
export interface PlacedAtOtherPrices {
  changes: PriceChange[];
  cartTotalCents: number;
}

/** By order id, for the tab's session: its page says so. */
export const placedAtOtherPrices = signal<Record<string, PlacedAtOtherPrices>>({});

/**
 * The server prices an order from the catalog as it places it: a price changed after the cart
 * last read it (between that read and the order) is charged as it is now. Kept for the order's
 * page, which says which products were ordered at which price against what the cart showed.
 */
export function notePlacedPrices(order: Order, lines: readonly CartLine[]): void {
  const changes: PriceChange[] = [];
  for (const item of order.items) {
    const shown = lines.find((line) => line.product.id === item.productId)?.product.priceCents;
    if (shown !== undefined && shown !== item.unitPriceCents) changes.push({ productId: item.productId, name: item.name, fromCents: shown, toCents: item.unitPriceCents, currency: order.currency });
  }
  if (changes.length === 0) return;
  const cartTotalCents = lines.reduce((sum, line) => sum + line.quantity * line.product.priceCents, 0);
  placedAtOtherPrices.value = { ...placedAtOtherPrices.value, [order.id]: { changes, cartTotalCents } };
}

export function addToCart(product: Product, quantity: number): void {
  const existing = cartLines.value.find((line) => line.product.id === product.id);
  if (existing) setLines(cartLines.value.map((line) => (line === existing ? { product, quantity: line.quantity + quantity } : line)));
  else setLines([...cartLines.value, { product, quantity }]);
}

export function setQuantity(productId: string, quantity: number): void {
  setLines(cartLines.value.map((line) => (line.product.id === productId ? { ...line, quantity } : line)));
}

export function clearCart(): void {
  setLines([]);
  priceChanges.value = [];
}

/** Empties the cart and forgets what it placed: *Sign out* does, and a different user signing in. */
export function forgetCart(): void {
  clearCart();
  if (Object.keys(placedAtOtherPrices.peek()).length > 0) placedAtOtherPrices.value = {};
}

// The cart is the signed-in user's. A session that ends by itself (expired, refused) keeps it for
// that user's next sign-in on this tab: it may have ended mid-checkout. Anyone else signing in
// starts with an empty cart, so nobody finds (and orders) someone else's; Sign out empties it.
let owner: string | null = null;
effect(() => {
  const user = currentUser.value;
  if (!user || user.id === owner) return;
  const previous = owner;
  owner = user.id;
  if (previous !== null) forgetCart();
});
