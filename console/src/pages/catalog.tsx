import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api, ApiError, messageOf } from '../api.js';
import { addToCart, type CartLine, cartLines, cartTotalCents, clearCart, notePlacedPrices, orderKey, priceChanges, setQuantity, updateCartProducts } from '../cart.js';
import { ErrorMessage, Loading, PageTitle, useFocusAfterRemoval } from '../components.js';
import { money } from '../format.js';
import { navigate } from '../router.js';
import type { Order, Page, Product } from '../types.js';

const REFRESH_MS = 5000;

/** Every product, page by page (the catalog is small; the API caps a page at 100). */
async function loadCatalog(): Promise<Product[]> {
  const products: Product[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<Product> = await api<Page<Product>>(`/api/products?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    products.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && products.length < 1000);
  return products;
}

export function CatalogPage() {
  const products = useSignal<Product[] | null>(null);
  const error = useSignal<string | null>(null);

  // An error shown is the latest read's. One the user asks for (Refresh) takes it away as it
  // starts; the page's own reads every few seconds leave it until they answer (it would flicker).
  const refresh = (asked = false) => {
    if (asked) error.value = null;
    return loadCatalog().then(
      (items) => {
        products.value = items;
        // The cart shows the prices of now, not those of when each product went in.
        updateCartProducts(items);
        error.value = null;
      },
      (caught: unknown) => (error.value = messageOf(caught)),
    );
  };
  useEffect(() => {
    void refresh();
    // Availability changes as others order and admins restock.
    const timer = setInterval(() => void refresh(), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);

  return (
    <main id="main" class="with-aside">
      <section aria-labelledby="catalog-heading" class="grow">
        <PageTitle actions={<button type="button" onClick={() => void refresh(true)}>Refresh</button>}>
          <span id="catalog-heading">Catalog</span>
        </PageTitle>
        <ErrorMessage message={error.value} />
        {products.value === null ? (
          error.value ? null : <Loading what="products" />
        ) : products.value.length === 0 ? (
          <p class="muted">No products yet.</p>
        ) : (
          <ul class="product-grid" aria-label="Products">
            {products.value.map((product) => (
              <ProductCard key={product.id} product={product} />
            ))}
          </ul>
        )}
      </section>
      <Cart onPlaced={() => void refresh()} />
    </main>
  );
}

function ProductCard({ product }: { product: Product }) {
  const quantity = useSignal(1);
  const inCart = cartLines.value.find((line) => line.product.id === product.id)?.quantity ?? 0;
  const soldOut = product.available <= inCart;
  const inputId = `qty-${product.id}`;
  return (
    <li class="card product" data-sku={product.sku}>
      <h2>{product.name}</h2>
      <p class="muted sku">{product.sku}</p>
      {product.description ? <p>{product.description}</p> : null}
      <p class="price">{money(product.priceCents, product.currency)}</p>
      <p class={product.available > 0 ? 'available' : 'sold-out'} data-testid="availability">
        {product.available > 0 ? `${product.available} available` : 'Sold out'}
      </p>
      <div class="row">
        <label for={inputId} class="visually-hidden">
          Quantity of {product.name}
        </label>
        <input
          id={inputId}
          type="number"
          min={1}
          max={Math.max(1, product.available - inCart)}
          value={quantity.value}
          class="qty"
          onInput={(e) => (quantity.value = Math.max(1, Math.floor(Number(e.currentTarget.value) || 1)))}
        />
        <button type="button" disabled={soldOut} onClick={() => addToCart(product, Math.min(quantity.value, product.available - inCart))} aria-label={`Add ${product.name} to cart`}>
          Add to cart
        </button>
      </div>
    </li>
  );
}

function Cart({ onPlaced }: { onPlaced: () => void }) {
  const error = useSignal<string | null>(null);
  const placing = useSignal(false);
  // A plain flag, set before any re-render: a second click in the same frame is ignored.
  const inFlight = useRef(false);
  const lines = cartLines.value;
  const currency = lines[0]?.product.currency ?? 'USD';
  // A removed line's Remove has focus: it moves to the next line's Remove, or to the cart once it is empty.
  const heading = useRef<HTMLHeadingElement>(null);
  const removal = useFocusAfterRemoval('button.remove', () => heading.current);
  const remove = (line: CartLine, at: number) => {
    removal.removed(at, `${line.product.name} removed from the cart.`);
    setQuantity(line.product.id, 0);
  };

  async function place() {
    if (inFlight.current || lines.length === 0) return;
    inFlight.current = true;
    placing.value = true;
    error.value = null;
    try {
      // Prices are read again first: one changed since the cart last showed it is shown (with the
      // new total) and nothing is ordered; placing again orders at the price now shown.
      const current = await Promise.all(lines.map((line) => api<Product>(`/api/products/${encodeURIComponent(line.product.id)}`)));
      if (updateCartProducts(current).length > 0) return;
      const order = await api<Order>('/api/orders', {
        method: 'POST',
        headers: { 'Idempotency-Key': orderKey() },
        body: { items: lines.map((line) => ({ productId: line.product.id, quantity: line.quantity })) },
      });
      // A price that changed after the read above is charged as it is now: the order's page says so.
      notePlacedPrices(order, lines);
      clearCart();
      onPlaced();
      navigate(`/orders/${order.id}`);
    } catch (caught) {
      error.value = placeError(caught, lines);
    } finally {
      inFlight.current = false;
      placing.value = false;
    }
  }

  return (
    <aside class="card cart" aria-labelledby="cart-heading">
      <h2 id="cart-heading" tabIndex={-1} ref={heading}>
        Cart
      </h2>
      <p class="visually-hidden" aria-live="polite">
        {removal.announcement.value}
      </p>
      {lines.length === 0 ? (
        <p class="muted">Your cart is empty.</p>
      ) : (
        <>
          <ul class="cart-lines" ref={removal.list}>
            {lines.map((line, at) => (
              <li key={line.product.id} class="row">
                <span class="grow">
                  {line.product.name}
                  <span class="muted each"> {money(line.product.priceCents, line.product.currency)} each</span>
                </span>
                <label class="visually-hidden" for={`cart-${line.product.id}`}>
                  Quantity of {line.product.name} in cart
                </label>
                <input
                  id={`cart-${line.product.id}`}
                  type="number"
                  class="qty"
                  min={0}
                  max={1000}
                  value={line.quantity}
                  onChange={(e) => {
                    const quantity = Math.max(0, Math.floor(Number(e.currentTarget.value) || 0));
                    if (quantity === 0) remove(line, at);
                    else setQuantity(line.product.id, quantity);
                  }}
                />
                <button type="button" class="link remove" onClick={() => remove(line, at)} aria-label={`Remove ${line.product.name}`}>
                  Remove
                </button>
              </li>
            ))}
          </ul>
          <p class="total">
            Total <strong>{money(cartTotalCents.value, currency)}</strong>
          </p>
        </>
      )}
      <PriceChanges />
      <ErrorMessage message={error.value} />
      <button type="button" class="primary wide" disabled={lines.length === 0 || placing.value} onClick={() => void place()}>
        {placing.value ? 'Placing order…' : 'Place order'}
      </button>
    </aside>
  );
}

/** Says which prices changed since their products went into the cart (announced as it appears). */
function PriceChanges() {
  const changes = priceChanges.value;
  return (
    <div role="status">
      {changes.length === 0 ? null : (
        <p class="notice">
          {changes.length === 1 ? 'A price changed' : 'Prices changed'} since you added {changes.length === 1 ? 'it' : 'them'}:{' '}
          {changes.map((change) => `${change.name} is now ${money(change.toCents, change.currency)} (was ${money(change.fromCents, change.currency)})`).join('; ')}. The total
          above is at the current prices; nothing has been ordered yet.
        </p>
      )}
    </div>
  );
}

function placeError(caught: unknown, lines: readonly { product: Product }[]): string {
  if (caught instanceof ApiError && caught.code === 'OUT_OF_STOCK') {
    const shortfalls = (caught.errors as { productId?: string; available?: number }[]).map((problem) => {
      const name = lines.find((line) => line.product.id === problem.productId)?.product.name ?? 'a product';
      return `only ${problem.available ?? 0} of ${name} left`;
    });
    return `Not enough stock: ${shortfalls.join(', ')}. Nothing was ordered.`;
  }
  if (caught instanceof ApiError && caught.code === 'IDEMPOTENCY_KEY_IN_USE') return 'This order is still being placed. Wait a moment, then try again.';
  return messageOf(caught);
}
