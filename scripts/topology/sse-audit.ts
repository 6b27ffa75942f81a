/**
 * SSE clients through haproxy during a fault: each follows GET /api/orders/events, reconnects
 * on any drop with the Last-Event-ID it last saw (signing in again when the stream ended with its
 * access token), and afterwards must have seen every event of every acknowledged order once, in
 * order, with nothing the database does not hold.
 */
import type pg from 'pg';
import { openSse, orderOf, type SseClient } from '../../test/sse.js';
import type { Session } from './api-client.js';
import { API_URL, sleep, waitFor } from './services.js';

interface Seen {
  seq: number;
  orderId: string;
  status: string;
}

export interface EventWatcher {
  label: string;
  /** Only this user's orders are expected (a customer's stream), or every order (an admin's `scope=all`). */
  userId: string | undefined;
  seen: Seen[];
  reconnects: number;
  /** Longest time without an open stream, from a drop to the next 200. */
  longestDropMs: number;
  lastSeq(): number;
  stop(): Promise<void>;
}

const RECONNECT_DELAY_MS = 250;

/** Starts following the stream right after `afterSeq` (a position read from the database). */
export function watchOrderEvents(label: string, session: Session, options: { all: boolean; userId?: string; afterSeq: number }): EventWatcher {
  let stopped = false;
  let current: SseClient | undefined;
  let last = options.afterSeq;
  const watcher: EventWatcher = {
    label,
    userId: options.userId,
    seen: [],
    reconnects: 0,
    longestDropMs: 0,
    lastSeq: () => Math.max(last, Number(current?.lastEventId ?? -1)),
    async stop() {
      stopped = true;
      current?.close();
      await running;
    },
  };
  const take = (client: SseClient, from: number): number => {
    for (const message of client.messages.slice(from)) {
      const order = orderOf(message);
      watcher.seen.push({ seq: Number(message.id), orderId: order.id, status: order.status });
    }
    return client.messages.length;
  };
  const running = (async () => {
    let droppedAt: number | undefined;
    while (!stopped) {
      const token = session.token;
      const client = await openSse(`${API_URL}/api/orders/events${options.all ? '?scope=all' : ''}`, {
        authorization: `Bearer ${token}`,
        'Last-Event-ID': String(last),
      }).catch(() => undefined);
      if (!client || client.status !== 200) {
        client?.close();
        if (client?.status === 401) await session.renew(token);
        droppedAt ??= Date.now();
        await sleep(RECONNECT_DELAY_MS);
        continue;
      }
      if (droppedAt !== undefined) {
        watcher.longestDropMs = Math.max(watcher.longestDropMs, Date.now() - droppedAt);
        watcher.reconnects++;
        droppedAt = undefined;
      }
      current = client;
      let taken = 0;
      while (!client.isEnded() && !stopped) {
        await client.waitFor((c) => c.isEnded() || c.messages.length > taken, 1000, 'events').catch(() => undefined);
        taken = take(client, taken);
      }
      take(client, taken);
      if (client.lastEventId !== undefined) last = Math.max(last, Number(client.lastEventId));
      client.close();
      current = undefined;
      if (!stopped) droppedAt = Date.now();
    }
  })();
  return watcher;
}

export async function currentEventSeq(db: pg.Client): Promise<number> {
  return Number((await db.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM order_events')).rows[0]?.seq ?? 0);
}

/**
 * Waits until the watcher has caught up with the event log for `acknowledged`, stops it, and
 * names every gap, repeat, reordering or phantom event it saw.
 */
export async function auditEvents(db: pg.Client, watcher: EventWatcher, acknowledged: string[], afterSeq: number): Promise<string[]> {
  const problems: string[] = [];
  const expectedRows = async () =>
    (
      await db.query<{ seq: string; order_id: string }>(
        `SELECT seq, order_id FROM order_events WHERE seq > $1 AND order_id = ANY($2::uuid[]) AND ($3::uuid IS NULL OR user_id = $3) ORDER BY seq`,
        [afterSeq, acknowledged, watcher.userId ?? null],
      )
    ).rows.map((row) => ({ seq: Number(row.seq), orderId: row.order_id }));
  await waitFor(
    `${watcher.label}: the SSE client to catch up`,
    async () => {
      const unsequenced = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM outbox_events WHERE NOT sequenced')).rows[0]!.n);
      const rows = await expectedRows();
      return unsequenced === 0 && watcher.lastSeq() >= (rows.at(-1)?.seq ?? 0);
    },
    30_000,
  ).catch((error: Error) => problems.push(error.message));
  await watcher.stop();

  const seqs = watcher.seen.map((s) => s.seq);
  const outOfOrder = seqs.filter((seq, i) => i > 0 && seq <= seqs[i - 1]!).length;
  if (outOfOrder > 0) problems.push(`${outOfOrder} events repeated or out of order`);
  const seenSeqs = new Set(seqs);
  const expected = await expectedRows();
  const missing = expected.filter((row) => !seenSeqs.has(row.seq));
  if (missing.length > 0) problems.push(`${missing.length} events never reached the client (first seq ${missing[0]!.seq})`);
  const known = new Set(
    (await db.query<{ seq: string }>('SELECT seq FROM order_events WHERE seq = ANY($1::bigint[])', [seqs])).rows.map((row) => Number(row.seq)),
  );
  const phantom = seqs.filter((seq) => !known.has(seq)).length;
  if (phantom > 0) problems.push(`${phantom} events seen that the database does not hold`);

  // Each acknowledged order's history, status by status, as the stream told it.
  const { rows: orders } = await db.query<{ id: string; statuses: string[] }>(
    `SELECT id, ARRAY(SELECT h->>'status' FROM jsonb_array_elements(history) h) AS statuses FROM orders
     WHERE id = ANY($1::uuid[]) AND ($2::uuid IS NULL OR user_id = $2)`,
    [acknowledged, watcher.userId ?? null],
  );
  const told = new Map<string, string[]>();
  for (const s of watcher.seen) told.set(s.orderId, [...(told.get(s.orderId) ?? []), s.status]);
  const wrongHistory = orders.filter((order) => (told.get(order.id) ?? []).join(',') !== order.statuses.join(','));
  if (wrongHistory.length > 0) {
    const first = wrongHistory[0]!;
    problems.push(`${wrongHistory.length} orders whose streamed statuses differ from their history (${first.id}: ${(told.get(first.id) ?? []).join('→')} vs ${first.statuses.join('→')})`);
  }
  return problems;
}

/** One line for the report. */
export function describeWatcher(watcher: EventWatcher): string {
  return `${watcher.label} saw ${watcher.seen.length} events, reconnected ${watcher.reconnects}× (longest drop ${(watcher.longestDropMs / 1000).toFixed(1)} s)`;
}

export interface Watchers {
  afterSeq: number;
  all: EventWatcher[];
}

/** An admin following every order and one customer following theirs, from the log's current end. */
export async function startWatchers(db: pg.Client, admin: Session, customer: Session): Promise<Watchers> {
  const afterSeq = await currentEventSeq(db);
  return {
    afterSeq,
    all: [
      watchOrderEvents('admin SSE (scope=all)', admin, { all: true, afterSeq }),
      watchOrderEvents('customer SSE', customer, { all: false, userId: customer.userId, afterSeq }),
    ],
  };
}

export async function auditWatchers(db: pg.Client, watchers: Watchers, acknowledged: string[]): Promise<{ problems: string[]; measured: string }> {
  const problems: string[] = [];
  for (const watcher of watchers.all) problems.push(...(await auditEvents(db, watcher, acknowledged, watchers.afterSeq)).map((p) => `${watcher.label}: ${p}`));
  return { problems, measured: watchers.all.map(describeWatcher).join('; ') };
}
