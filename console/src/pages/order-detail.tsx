import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api, currentUser, messageOf } from '../api.js';
import { placedAtOtherPrices, type PlacedAtOtherPrices } from '../cart.js';
import { ErrorMessage, Loading, PageTitle, StatusBadge, useAction } from '../components.js';
import { clock, money, shortId, when } from '../format.js';
import { liveState, useLiveOrders } from '../live.js';
import { isOlder } from '../order-changes.js';
import { TERMINAL, type EmailDelivery, type Order } from '../types.js';

const EMAIL_LABELS: Record<EmailDelivery['kind'], string> = { order_confirmation: 'Confirmation', order_failure: 'Failure notice' };
const EMAIL_STATES: Record<EmailDelivery['status'], string> = { pending: 'not sent yet', sent: 'sent', undeliverable: 'could not be delivered' };

/** One order, its status changing live until it is final; admins also see its emails. */
export function OrderDetailPage({ id }: { id: string }) {
  const order = useSignal<Order | null>(null);
  const error = useSignal<string | null>(null);
  const isAdmin = currentUser.value?.role === 'admin';

  const load = () =>
    api<Order>(`/api/orders/${encodeURIComponent(id)}`).then(
      (loaded) => {
        // A poll's answer read before a change the stream already brought is older: keep the newer.
        if (order.value && isOlder(loaded, order.value)) return;
        order.value = loaded;
        error.value = null;
      },
      (caught: unknown) => (error.value = messageOf(caught)),
    );
  useEffect(() => {
    order.value = null;
    void load();
  }, [id]);

  const final = order.value !== null && TERMINAL.has(order.value.status);
  useLiveOrders(
    order.value && !final ? `/api/orders/${encodeURIComponent(id)}/events` : null,
    (changed) => {
      // Never step back: an older copy (e.g. from a poll racing the stream) does not replace a newer one.
      if (order.value && isOlder(changed, order.value)) return;
      order.value = changed;
    },
    () => void load(),
  );

  // A double click sent two cancels, and the second's 409 said the order could not be cancelled.
  const cancelling = useAction();
  // The button goes away with the pending status (maybe already, if the stream brought the change
  // first): focus moves to the status, a live region that announces it, not to <body>.
  const statusLine = useRef<HTMLParagraphElement>(null);
  // An earlier Cancel's error goes as the next starts.
  const cancel = () =>
    cancelling.run(async () => {
      error.value = null;
      try {
        order.value = await api<Order>(`/api/orders/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
        statusLine.current?.focus();
      } catch (caught) {
        error.value = messageOf(caught);
      }
    });

  const current = order.value;
  return (
    <main id="main">
      <PageTitle actions={<a href={isAdmin ? '#/admin/orders' : '#/orders'}>Back to orders</a>}>
        Order <span class="mono">{shortId(id)}</span>
      </PageTitle>
      <ErrorMessage message={error.value} />
      {placedAtOtherPrices.value[id] ? <OtherPrices placed={placedAtOtherPrices.value[id]} currentTotalCents={current?.totalCents} pending={current?.status === 'pending'} /> : null}
      {current === null ? (
        error.value ? null : <Loading what="the order" />
      ) : (
        <div class="detail-grid">
          <section class="card" aria-labelledby="status-heading">
            <h2 id="status-heading">Status</h2>
            <p class="big-status" role="status" aria-live="polite" tabIndex={-1} ref={statusLine}>
              <StatusBadge status={current.status} />
              {/* Not once the server refused the stream: the banner says updates stopped, and why. */}
              {final || liveState.value === 'stopped' ? null : <span class="muted"> updating live…</span>}
            </p>
            {current.failureReason ? <p class="error-text">Reason: {current.failureReason}</p> : null}
            <ol class="timeline" aria-label="History">
              {current.history.map((step, index) => (
                <li key={index}>
                  <StatusBadge status={step.status} /> <time dateTime={step.at}>{clock(step.at)}</time>
                </li>
              ))}
            </ol>
            {/* An admin may cancel anyone's pending order; a customer (a demoted admin too, once that is known) only their own. */}
            {current.status === 'pending' && (isAdmin || current.userId === currentUser.value?.id) ? (
              <button type="button" disabled={cancelling.pending.value} onClick={() => void cancel()}>
                {cancelling.pending.value ? 'Cancelling…' : 'Cancel order'}
              </button>
            ) : null}
          </section>
          <section class="card" aria-labelledby="items-heading">
            <h2 id="items-heading">Items</h2>
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Product</th>
                    <th scope="col" class="num">Qty</th>
                    <th scope="col" class="num">Price</th>
                    <th scope="col" class="num">Line total</th>
                  </tr>
                </thead>
                <tbody>
                  {current.items.map((item) => (
                    <tr key={item.productId}>
                      <td>
                        {item.name} <span class="muted sku">{item.sku}</span>
                      </td>
                      <td class="num">{item.quantity}</td>
                      <td class="num">{money(item.unitPriceCents, current.currency)}</td>
                      <td class="num">{money(item.lineTotalCents, current.currency)}</td>
                    </tr>
                  ))}
                </tbody>
                <tfoot>
                  <tr>
                    <th scope="row" colSpan={3}>
                      Total
                    </th>
                    <td class="num">
                      <strong>{money(current.totalCents, current.currency)}</strong>
                    </td>
                  </tr>
                </tfoot>
              </table>
            </div>
            <p class="muted">Placed {when(current.createdAt)}</p>
            {isAdmin ? <p class="muted">Customer <span class="mono">{current.userId}</span></p> : null}
          </section>
          {isAdmin ? <Emails orderId={id} status={current.status} /> : null}
        </div>
      )}
    </main>
  );
}

/** Said on the page of an order placed a moment ago at prices other than its cart showed (one changed as it was placed). */
function OtherPrices({ placed, currentTotalCents, pending }: { placed: PlacedAtOtherPrices; currentTotalCents: number | undefined; pending: boolean }) {
  const { changes, cartTotalCents } = placed;
  const currency = changes[0]?.currency ?? 'USD';
  return (
    <p class="notice" role="alert">
      {changes.length === 1 ? 'A price changed' : 'Prices changed'} as the order was placed:{' '}
      {changes.map((change) => `${change.name} was ordered at ${money(change.toCents, currency)} each (your cart showed ${money(change.fromCents, currency)})`).join('; ')}.
      {currentTotalCents === undefined ? null : ` The total is ${money(currentTotalCents, currency)}, not ${money(cartTotalCents, currency)}.`}
      {pending ? ' You can cancel the order below while it is pending.' : null}
    </p>
  );
}

/** The order's emails; re-read while one is still unsent, since sending follows the status change. */
function Emails({ orderId, status }: { orderId: string; status: Order['status'] }) {
  const emails = useSignal<EmailDelivery[] | null>(null);
  const error = useSignal<string | null>(null);
  // Bumped after a resend, to read the emails again until the reopened ones have gone out.
  const reads = useSignal(0);
  const resending = useAction();
  const resend = () =>
    resending.run(async () => {
      try {
        const { items } = await api<{ items: EmailDelivery[] }>(`/api/orders/${encodeURIComponent(orderId)}/emails/resend`, { method: 'POST' });
        emails.value = items;
        error.value = null;
        reads.value++;
      } catch (caught) {
        error.value = messageOf(caught);
      }
    });
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const { items } = await api<{ items: EmailDelivery[] }>(`/api/orders/${encodeURIComponent(orderId)}/emails`);
        if (stopped) return;
        emails.value = items;
        error.value = null;
        const waiting = (status === 'completed' || status === 'failed') && !items.some((email) => email.status !== 'pending');
        if (waiting) timer = setTimeout(() => void load(), 2000);
      } catch (caught) {
        if (!stopped) error.value = messageOf(caught);
      }
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [orderId, status, reads.value]);

  const refused = emails.value?.some((email) => email.status === 'undeliverable') ?? false;
  return (
    <section class="card" aria-labelledby="emails-heading">
      <h2 id="emails-heading">Email</h2>
      <ErrorMessage message={error.value} />
      {emails.value === null ? null : emails.value.length === 0 ? (
        <p class="muted">{status === 'completed' || status === 'failed' ? 'Being sent…' : 'Sent when the order completes or fails.'}</p>
      ) : (
        <ul class="plain">
          {emails.value.map((email) => (
            <li key={email.kind}>
              {EMAIL_LABELS[email.kind]}: <strong>{EMAIL_STATES[email.status]}</strong>
              {email.sentAt ? ` at ${clock(email.sentAt)}` : ''} ({email.attempts} attempt{email.attempts === 1 ? '' : 's'})
            </li>
          ))}
        </ul>
      )}
      {refused ? (
        <p>
          <button type="button" onClick={() => void resend()} disabled={resending.pending.value}>
            Send again
          </button>{' '}
          <span class="muted">once the address or the mail server is fixed</span>
        </p>
      ) : null}
    </section>
  );
}
