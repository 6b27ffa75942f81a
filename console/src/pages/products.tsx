import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api, messageOf } from '../api.js';
import { ErrorMessage, Field, Loading, PageTitle, useAction, useFormErrors } from '../components.js';
import { amountOf, money, toMinorUnits } from '../format.js';
import type { Product, ProductPage } from '../types.js';

export function ProductsPage() {
  const products = useSignal<Product[] | null>(null);
  const nextCursor = useSignal<string | null>(null);
  const error = useSignal<string | null>(null);
  const editing = useSignal<string | null>(null);
  // The shop's currency, as the catalog answer says (not a product's: there may be none yet).
  const currency = useSignal<string | null>(null);

  // An error shown is the latest attempt's: it goes as the next read (Refresh, More products) or
  // Restock starts, not when one succeeds.
  const load = async (cursor: string | null = null) => {
    error.value = null;
    try {
      const page = await api<ProductPage>(`/api/products?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      currency.value = page.currency;
      products.value = cursor ? [...(products.value ?? []), ...page.items] : page.items;
      nextCursor.value = page.nextCursor;
      error.value = null;
    } catch (caught) {
      error.value = messageOf(caught);
    }
  };
  useEffect(() => void load(), []);

  const replace = (product: Product) => (products.value = (products.value ?? []).map((item) => (item.id === product.id ? product : item)));
  // A closed edit form goes away with the focus in it: its row's Edit button takes focus instead of <body>.
  const focusEditOf = useRef<string | null>(null);
  useEffect(() => {
    const id = focusEditOf.current;
    if (!id) return;
    focusEditOf.current = null;
    document.querySelector<HTMLElement>(`button[data-edit="${id}"]`)?.focus();
  });

  return (
    <main id="main">
      <PageTitle actions={<button type="button" onClick={() => void load()}>Refresh</button>}>Products and stock</PageTitle>
      <ErrorMessage message={error.value} />
      <CreateProduct currency={currency.value} onCreated={(product) => (products.value = [...(products.value ?? []), product])} />
      {products.value === null ? (
        error.value ? null : <Loading what="products" />
      ) : products.value.length === 0 ? (
        <p class="muted">No products yet: add the first with New product.</p>
      ) : (
        <div class="table-wrap">
          <table class="products cards">
            <thead>
              <tr>
                <th scope="col">Product</th>
                <th scope="col" class="num">Price</th>
                <th scope="col" class="num">On hand</th>
                <th scope="col" class="num">Reserved</th>
                <th scope="col" class="num">Available</th>
                <th scope="col">Restock</th>
                <th scope="col">
                  <span class="visually-hidden">Edit</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {products.value.map((product) =>
                editing.value === product.id ? (
                  <EditRow key={product.id} product={product} onDone={(saved) => ((focusEditOf.current = product.id), (editing.value = null), saved && replace(saved))} />
                ) : (
                  <tr key={product.id} data-sku={product.sku}>
                    <td>
                      <strong>{product.name}</strong> <span class="muted sku">{product.sku}</span>
                      {product.description ? <div class="muted hide-phone">{product.description}</div> : null}
                    </td>
                    <td class="num" data-label="Price">{money(product.priceCents, product.currency)}</td>
                    <td class="num" data-label="On hand">{product.onHand ?? '—'}</td>
                    <td class="num" data-label="Reserved">{product.reserved ?? '—'}</td>
                    <td class="num" data-label="Available" data-testid="available">
                      {product.available}
                    </td>
                    <td class="restock-cell">
                      <Restock product={product} onDone={replace} onError={(message) => (error.value = message)} />
                    </td>
                    <td class="actions-cell">
                      <button type="button" class="small" data-edit={product.id} onClick={() => (editing.value = product.id)} aria-label={`Edit ${product.name}`}>
                        Edit
                      </button>
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
      {nextCursor.value ? (
        <button type="button" onClick={() => void load(nextCursor.value)}>
          More products
        </button>
      ) : null}
    </main>
  );
}

function Restock({ product, onDone, onError }: { product: Product; onDone: (product: Product) => void; onError: (message: string | null) => void }) {
  const adjustment = useSignal('');
  // A second Enter or click while the first is on its way would apply the adjustment twice.
  const applying = useAction();
  const submit = (event: Event) => {
    event.preventDefault();
    const value = Number(adjustment.value);
    if (!Number.isInteger(value) || value === 0) {
      onError(`Enter a whole number other than 0 to add to (or, negative, remove from) ${product.name}'s stock.`);
      return;
    }
    return applying.run(async () => {
      onError(null);
      try {
        onDone(await api<Product>(`/api/products/${product.id}/stock`, { method: 'POST', body: { adjustment: value } }));
        adjustment.value = '';
      } catch (caught) {
        onError(messageOf(caught));
      }
    });
  };
  return (
    <form class="row restock" onSubmit={(e) => void submit(e)}>
      <label class="visually-hidden" for={`restock-${product.id}`}>
        Stock adjustment for {product.name}
      </label>
      <input id={`restock-${product.id}`} type="number" step={1} class="qty" placeholder="+10" value={adjustment.value} onInput={(e) => (adjustment.value = e.currentTarget.value)} />
      <button type="submit" class="small" disabled={applying.pending.value} aria-label={`Apply stock adjustment to ${product.name}`}>
        Apply
      </button>
    </form>
  );
}

function EditRow({ product, onDone }: { product: Product; onDone: (saved: Product | null) => void }) {
  const name = useSignal(product.name);
  const description = useSignal(product.description ?? '');
  const price = useSignal(amountOf(product.priceCents, product.currency));
  const errors = useFormErrors(['name', 'description', 'priceCents']);
  const saving = useAction();
  // Opened from its Edit button, which goes away: focus goes to the first field.
  const firstField = useRef<HTMLInputElement>(null);
  useEffect(() => firstField.current?.focus(), []);
  const save = (event: Event) => {
    event.preventDefault();
    const priceCents = toMinorUnits(price.value, product.currency);
    if (priceCents === null) {
      errors.flag('priceCents', `Enter an amount like ${amountOf(1250, product.currency)}.`);
      return;
    }
    // Only what was changed here: a field sent back as first shown would undo another admin's
    // change to it made meanwhile.
    const changes = {
      ...(name.value.trim() !== product.name ? { name: name.value.trim() } : {}),
      ...(description.value.trim() !== (product.description ?? '') ? { description: description.value.trim() } : {}),
      ...(priceCents !== product.priceCents ? { priceCents } : {}),
    };
    if (Object.keys(changes).length === 0) return onDone(null);
    return saving.run(async () => {
      try {
        onDone(await api<Product>(`/api/products/${product.id}`, { method: 'PATCH', body: changes }));
      } catch (caught) {
        errors.fail(caught);
      }
    });
  };
  return (
    <tr class="editing">
      <td colSpan={7}>
        <form class="grid-form" onSubmit={(e) => void save(e)} onKeyDown={(e) => e.key === 'Escape' && onDone(null)} aria-label={`Edit ${product.name}`}>
          <Field label="Name" error={errors.of('name')}>
            <input ref={firstField} required maxLength={200} value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} />
          </Field>
          <Field label="Description" error={errors.of('description')}>
            {/* A description may span lines; a one-line input would drop its line breaks. */}
            <textarea rows={3} value={description.value} onInput={(e) => (description.value = e.currentTarget.value)} />
          </Field>
          <Field label="Price" error={errors.of('priceCents')}>
            <input inputMode="decimal" required value={price.value} onInput={(e) => (price.value = e.currentTarget.value)} />
          </Field>
          <div class="row">
            <button type="submit" class="primary" disabled={saving.pending.value}>
              {saving.pending.value ? 'Saving…' : 'Save'}
            </button>
            <button type="button" onClick={() => onDone(null)}>
              Cancel
            </button>
          </div>
          <ErrorMessage message={errors.message.value} />
        </form>
      </td>
    </tr>
  );
}

/**
 * `currency` is the catalog's (one per deployment): it says how a price is typed (12.50 $, 1250 ¥).
 * Null until the catalog has been read: the form waits for it rather than guess.
 */
function CreateProduct({ currency, onCreated }: { currency: string | null; onCreated: (product: Product) => void }) {
  const open = useSignal(false);
  const sku = useSignal('');
  const name = useSignal('');
  const description = useSignal('');
  const price = useSignal('');
  const stock = useSignal('0');
  const errors = useFormErrors(['sku', 'name', 'description', 'priceCents', 'stock']);
  const creating = useAction();
  // The button and the form replace each other: focus follows, instead of falling to <body>.
  const firstField = useRef<HTMLInputElement>(null);
  const openButton = useRef<HTMLButtonElement>(null);
  const wasOpen = useRef(false);
  useEffect(() => {
    if (open.value !== wasOpen.current) (open.value ? firstField : openButton).current?.focus();
    wasOpen.current = open.value;
  });
  if (!open.value || currency === null) {
    return (
      <p>
        <button type="button" class="primary" ref={openButton} disabled={currency === null} onClick={() => (open.value = true)}>
          New product
        </button>
      </p>
    );
  }
  const create = (event: Event) => {
    event.preventDefault();
    const priceCents = toMinorUnits(price.value, currency);
    if (priceCents === null) {
      errors.flag('priceCents', `Enter an amount like ${amountOf(1250, currency)}.`);
      return;
    }
    return creating.run(async () => {
      try {
        const body = { sku: sku.value.trim(), name: name.value.trim(), priceCents, stock: Number(stock.value), ...(description.value.trim() ? { description: description.value.trim() } : {}) };
        onCreated(await api<Product>('/api/products', { method: 'POST', body }));
        open.value = false;
        sku.value = name.value = description.value = price.value = '';
        stock.value = '0';
        errors.show(null);
      } catch (caught) {
        errors.fail(caught);
      }
    });
  };
  return (
    <form class="card grid-form" onSubmit={(e) => void create(e)} onKeyDown={(e) => e.key === 'Escape' && (open.value = false)} aria-label="New product">
      <Field label="SKU" error={errors.of('sku')}>
        <input ref={firstField} required value={sku.value} onInput={(e) => (sku.value = e.currentTarget.value)} />
      </Field>
      <Field label="Name" error={errors.of('name')}>
        <input required value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} />
      </Field>
      <Field label="Description" error={errors.of('description')}>
        <textarea rows={2} value={description.value} onInput={(e) => (description.value = e.currentTarget.value)} />
      </Field>
      <Field label={`Price (${currency})`} error={errors.of('priceCents')}>
        <input inputMode="decimal" required placeholder={amountOf(1250, currency)} value={price.value} onInput={(e) => (price.value = e.currentTarget.value)} />
      </Field>
      <Field label="Initial stock" error={errors.of('stock')}>
        <input type="number" min={0} step={1} required value={stock.value} onInput={(e) => (stock.value = e.currentTarget.value)} />
      </Field>
      <div class="row">
        <button type="submit" class="primary" disabled={creating.pending.value}>
          {creating.pending.value ? 'Creating…' : 'Create'}
        </button>
        <button type="button" onClick={() => (open.value = false)}>
          Cancel
        </button>
      </div>
      <ErrorMessage message={errors.message.value} />
    </form>
  );
}
