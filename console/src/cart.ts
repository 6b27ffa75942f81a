import { computed, effect, signal } from '@preact/signals';
import { currentUser } from './api.js';
import type { Product } from './types.js';

export interface CartLine {
  product: Product;
  quantity: number;
}

/** The cart lives in memory for this tab, like the session. */
export const cartLines = signal<CartLine[]>([]);
export const cartCount = computed(() => cartLines.value.reduce((sum, line) => sum + line.quantity, 0));
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
}

// The cart is the signed-in user's: when the session ends (signed out, or expired), it is emptied,
// so the next person to sign in on this tab does not find (and order) someone else's cart.
effect(() => {
  if (currentUser.value === null && cartLines.peek().length > 0) clearCart();
});
