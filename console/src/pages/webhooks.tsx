import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api, messageOf } from '../api.js';
import { ErrorMessage, Field, Loading, PageTitle, useAction, useFocusAfterRemoval, useFormErrors } from '../components.js';
import { recent } from '../format.js';
import { WEBHOOK_EVENTS, type Delivery, type Page, type Webhook, type WebhookEvent } from '../types.js';

/** Lists from the API are pages; a single page of up to 100 is plenty for webhooks. */
const itemsOf = <T,>(answer: Page<T> | T[]): T[] => (Array.isArray(answer) ? answer : answer.items);

export function WebhooksPage() {
  const hooks = useSignal<Webhook[] | null>(null);
  const error = useSignal<string | null>(null);
  const secret = useSignal<{ url: string; secret: string } | null>(null);
  const open = useSignal<string | null>(null);

  const load = () =>
    api<Page<Webhook> | Webhook[]>('/api/webhooks?limit=100').then(
      (answer) => {
        hooks.value = itemsOf(answer);
        error.value = null;
      },
      (caught: unknown) => (error.value = messageOf(caught)),
    );
  useEffect(() => void load(), []);

  const replace = (hook: Webhook) => {
    hooks.value = (hooks.value ?? []).map((item) => (item.id === hook.id ? hook : item));
  };
  // One row action at a time: two rotations at once could leave the older secret on screen.
  // An error shown is the latest attempt's: it goes as the next action starts, not when it
  // succeeds. A confirmation the user dismisses (`ask`) tries nothing, and leaves it.
  const action = useAction();
  const act = (work: () => Promise<void>, ask?: string) =>
    action.run(async () => {
      if (ask !== undefined && !confirm(ask)) return;
      error.value = null;
      try {
        await work();
      } catch (caught) {
        error.value = messageOf(caught);
      }
    });

  // A deleted endpoint's Delete has focus: it moves to the next endpoint's Delete (the one before,
  // for the last), or to the heading once none is left, once the row buttons are enabled again.
  const deletion = useFocusAfterRemoval('button.delete', () => document.querySelector<HTMLElement>('#main h1'));

  return (
    <main id="main">
      <PageTitle>Webhooks</PageTitle>
      <p class="visually-hidden" role="status">
        {deletion.announcement.value}
      </p>
      <p class="muted">Order events are sent to these endpoints, signed with Standard Webhooks headers, and retried with backoff until they succeed.</p>
      <ErrorMessage message={error.value} />
      {secret.value ? (
        <div class="card notice" role="status">
          <p>
            Signing secret for <strong>{secret.value.url}</strong>. Copy it now: it is not shown again.
          </p>
          <p>
            <code class="secret">{secret.value.secret}</code>
          </p>
          <button type="button" onClick={() => (secret.value = null)}>
            Done
          </button>
        </div>
      ) : null}
      <CreateWebhook
        onCreated={(hook) => {
          hooks.value = [...(hooks.value ?? []), hook];
          if (hook.secret) secret.value = { url: hook.url, secret: hook.secret };
        }}
      />
      {hooks.value === null ? (
        error.value ? null : <Loading what="webhooks" />
      ) : hooks.value.length === 0 ? (
        <p class="muted">No webhooks yet.</p>
      ) : (
        <ul class="plain stack" ref={deletion.list}>
          {hooks.value.map((hook, at) => (
            <li key={hook.id} class="card">
              <div class="row wrap">
                <div class="grow">
                  <strong class="break">{hook.url}</strong>
                  <div class="muted">
                    {hook.events.join(', ')}
                    {hook.description ? ` — ${hook.description}` : ''}
                  </div>
                  <div class={hook.enabled ? 'ok-text' : 'muted'}>{hook.enabled ? 'Enabled' : 'Disabled'}</div>
                </div>
                <div class="row wrap">
                  <button type="button" class="small" disabled={action.pending.value} onClick={() => void act(async () => replace(await api<Webhook>(`/api/webhooks/${hook.id}`, { method: 'PATCH', body: { enabled: !hook.enabled } })))}>
                    {hook.enabled ? 'Disable' : 'Enable'}
                  </button>
                  <button
                    type="button"
                    class="small"
                    disabled={action.pending.value}
                    onClick={() =>
                      void act(async () => {
                        const rotated = await api<Webhook>(`/api/webhooks/${hook.id}/rotate-secret`, { method: 'POST' });
                        replace(rotated);
                        if (rotated.secret) secret.value = { url: rotated.url, secret: rotated.secret };
                      })
                    }
                  >
                    Rotate secret
                  </button>
                  <button type="button" class="small" aria-expanded={open.value === hook.id} onClick={() => (open.value = open.value === hook.id ? null : hook.id)}>
                    Deliveries
                  </button>
                  <button
                    type="button"
                    class="small danger delete"
                    disabled={action.pending.value}
                    aria-label={`Delete the webhook to ${hook.url}`}
                    onClick={() =>
                      void act(async () => {
                        await api(`/api/webhooks/${hook.id}`, { method: 'DELETE' });
                        deletion.removed(at, `Webhook to ${hook.url} deleted.`);
                        hooks.value = (hooks.value ?? []).filter((item) => item.id !== hook.id);
                      }, `Delete the webhook to ${hook.url}?`)
                    }
                  >
                    Delete
                  </button>
                </div>
              </div>
              {open.value === hook.id ? <Deliveries hook={hook} /> : null}
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}

function CreateWebhook({ onCreated }: { onCreated: (hook: Webhook) => void }) {
  const url = useSignal('');
  const description = useSignal('');
  const events = useSignal<WebhookEvent[]>(['order.completed', 'order.failed']);
  const errors = useFormErrors(['url', 'events', 'description']);
  const adding = useAction();
  const create = (event: Event) => {
    event.preventDefault();
    return adding.run(async () => {
      try {
        const body = { url: url.value.trim(), events: events.value, ...(description.value.trim() ? { description: description.value.trim() } : {}) };
        onCreated(await api<Webhook>('/api/webhooks', { method: 'POST', body }));
        url.value = description.value = '';
        errors.show(null);
      } catch (caught) {
        errors.fail(caught);
      }
    });
  };
  return (
    <form class="card grid-form" onSubmit={(e) => void create(e)} aria-labelledby="new-webhook-heading">
      <h2 id="new-webhook-heading">Add a webhook</h2>
      <Field label="Endpoint URL" wide error={errors.of('url')}>
        <input type="url" required placeholder="https://example.com/hooks/orders" value={url.value} onInput={(e) => (url.value = e.currentTarget.value)} />
      </Field>
      <Field label="Description" error={errors.of('description')}>
        <input value={description.value} onInput={(e) => (description.value = e.currentTarget.value)} />
      </Field>
      <fieldset class="events" aria-invalid={errors.of('events') ? 'true' : undefined} aria-describedby={errors.of('events') ? 'webhook-events-error' : undefined}>
        <legend>Events</legend>
        {WEBHOOK_EVENTS.map((name) => (
          <label key={name} class="check">
            <input
              type="checkbox"
              checked={events.value.includes(name)}
              onChange={(e) => (events.value = e.currentTarget.checked ? [...events.value, name] : events.value.filter((item) => item !== name))}
            />{' '}
            {name}
          </label>
        ))}
        {errors.of('events') ? (
          <span class="field-error" id="webhook-events-error">
            {errors.of('events')}
          </span>
        ) : null}
      </fieldset>
      <div class="row">
        <button type="submit" class="primary" disabled={adding.pending.value}>
          {adding.pending.value ? 'Adding…' : 'Add webhook'}
        </button>
      </div>
      <ErrorMessage message={errors.message.value} />
    </form>
  );
}

function Deliveries({ hook }: { hook: Webhook }) {
  const deliveries = useSignal<Delivery[] | null>(null);
  const status = useSignal('');
  const error = useSignal<string | null>(null);
  const nextCursor = useSignal<string | null>(null);
  const query = (cursor: string | null) => {
    const params = new URLSearchParams({ limit: '20' });
    if (status.value) params.set('status', status.value);
    if (cursor) params.set('cursor', cursor);
    return `/api/webhooks/${hook.id}/deliveries?${params.toString()}`;
  };
  // Each read of the first page has a number: an answer overtaken by a newer read (another filter, a
  // Refresh) is dropped, and so is an older page asked for before the filter changed. An error
  // shown is an earlier read's: it goes as the next read (of either) starts.
  const generation = useRef(0);
  const load = async () => {
    const mine = ++generation.current;
    error.value = null;
    try {
      const answer = await api<Page<Delivery> | Delivery[]>(query(null));
      if (mine !== generation.current) return;
      deliveries.value = itemsOf(answer);
      nextCursor.value = Array.isArray(answer) ? null : answer.nextCursor;
      error.value = null;
    } catch (caught) {
      if (mine === generation.current) error.value = messageOf(caught);
    }
  };
  const loadOlder = async (cursor: string) => {
    const mine = generation.current;
    error.value = null;
    try {
      const answer = await api<Page<Delivery> | Delivery[]>(query(cursor));
      if (mine !== generation.current) return;
      const known = new Set((deliveries.value ?? []).map((delivery) => delivery.id));
      deliveries.value = [...(deliveries.value ?? []), ...itemsOf(answer).filter((delivery) => !known.has(delivery.id))];
      nextCursor.value = Array.isArray(answer) ? null : answer.nextCursor;
      error.value = null;
    } catch (caught) {
      if (mine === generation.current) error.value = messageOf(caught);
    }
  };
  // Another filter's list is not shown while this one loads: the section says it is loading.
  useEffect(() => {
    deliveries.value = null;
    nextCursor.value = null;
    void load();
  }, [status.value]);

  // As a read, a Redeliver takes away an earlier error as it starts, and its failure is dropped
  // once a newer read (another filter, a Refresh) has started: that read's state is the latest.
  const redelivering = useAction();
  const redeliver = (delivery: Delivery) =>
    redelivering.run(async () => {
      const mine = generation.current;
      error.value = null;
      try {
        await api(`/api/webhooks/${hook.id}/deliveries/${delivery.id}/redeliver`, { method: 'POST' });
      } catch (caught) {
        if (mine === generation.current) error.value = messageOf(caught);
        return;
      }
      await load();
    });

  return (
    <section class="deliveries" aria-label={`Deliveries to ${hook.url}`}>
      <div class="row">
        <label class="field inline">
          <span class="label">Delivery status</span>
          <select value={status.value} onChange={(e) => (status.value = e.currentTarget.value)}>
            <option value="">All</option>
            <option value="pending">pending</option>
            <option value="succeeded">succeeded</option>
            <option value="failed">failed</option>
          </select>
        </label>
        <button type="button" class="small" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <ErrorMessage message={error.value} />
      {deliveries.value === null ? (
        error.value ? null : <Loading what="deliveries" />
      ) : deliveries.value.length === 0 ? (
        <p class="muted">No deliveries.</p>
      ) : (
        <div class="table-wrap">
          <table class="delivery-list cards">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">Attempts</th>
                <th scope="col">Last answer</th>
                <th scope="col">Next attempt</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {deliveries.value.map((delivery) => (
                <tr key={delivery.id}>
                  <td>
                    {delivery.type}
                    <div class="muted">{recent(delivery.createdAt)}</div>
                  </td>
                  <td data-label="Status">
                    <span class={`badge badge-${delivery.status}`}>{delivery.status}</span>
                  </td>
                  <td class="num" data-label="Attempts">
                    {delivery.attempts}
                  </td>
                  <td class="answer-cell" data-label="Last answer">
                    {delivery.lastStatusCode ?? delivery.lastError ?? '—'}
                  </td>
                  <td data-label="Next attempt">{delivery.nextAttemptAt ? recent(delivery.nextAttemptAt) : '—'}</td>
                  <td class="actions-cell">
                    <button type="button" class="small" disabled={redelivering.pending.value} onClick={() => void redeliver(delivery)} aria-label={`Redeliver ${delivery.type} event`}>
                      Redeliver
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {nextCursor.value ? (
        <button type="button" class="small" onClick={() => void (nextCursor.value && loadOlder(nextCursor.value))}>
          Older deliveries
        </button>
      ) : null}
    </section>
  );
}
