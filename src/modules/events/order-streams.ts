import type { Database } from '../../platform/db/index.js';
import { isAdmin, type Principal, type Role } from '../../shared/principal.js';
import { isTerminalStatus, type Order } from '../orders/index.js';
import type { EventHub, StreamScope } from './event-hub.js';
import { createEventStream, type EventStream, type SseWriter } from './event-stream.js';
import { eventsAfter, logStateOf, positionsHandedOut } from './order-events.repository.js';

export type StreamOutcome = { kind: 'streaming'; close: () => void } | { kind: 'nothing-new' };

const PAGE = 500;

/** How often a stream that needs admin rights checks that its caller still has them. */
const ADMIN_RECHECK_MS = 15_000;
const STALL_MS = 30_000;

export interface OrderStreamsDeps {
  db: Database;
  hub: EventHub;
  now?: () => number;
  /** The account's role now (undefined: deleted); streams that need admin rights end when it is no longer admin. */
  roleOf?: (userId: string) => Promise<Role | undefined>;
  adminRecheckMs?: number;
  /** How long a stream waits for a client that takes nothing it was sent (SSE_STALL_MS). */
  stallMs?: number;
}

/**
 * The two SSE use cases. Both register with the hub BEFORE reading the log, so whatever the
 * hub delivers later is newer than what the read saw; the stream drops any overlap by id.
 */
export function createOrderStreams(deps: OrderStreamsDeps) {
  const { db, hub } = deps;
  const now = deps.now ?? Date.now;
  const stallMs = deps.stallMs ?? STALL_MS;

  /**
   * A stream opened with admin rights (every order, or another user's order) lives no longer
   * than those rights: an admin demoted or deleted is cut off within `adminRecheckMs`, as every
   * other call of theirs is refused at once. A failed check (database unreachable) keeps the
   * stream; the token's expiry still ends it.
   */
  function watchAdminRights(principal: Principal, stream: EventStream): (() => void) | undefined {
    const { roleOf } = deps;
    if (!roleOf) return undefined;
    const timer = setInterval(() => {
      if (stream.ended) return clearInterval(timer);
      roleOf(principal.userId).then(
        (role) => role !== 'admin' && stream.revoke(),
        () => undefined,
      );
    }, deps.adminRecheckMs ?? ADMIN_RECHECK_MS);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * The client's `Last-Event-ID`, or undefined (start afresh, as without one) when this log never
   * handed it out: past its positions (a database restored or recreated without the mark, see
   * event-positions.ts; an id from another shop). Taken as is, every event up to that id would be
   * dropped as seen, and the stream would stay silent until the log got there. Positions only
   * grow, so an id past them when read was not one this log gave the client.
   */
  async function resumeAfter(lastEventId: number | undefined): Promise<number | undefined> {
    if (lastEventId === undefined || lastEventId <= (await positionsHandedOut(db))) return lastEventId;
    return undefined;
  }

  async function replay(stream: EventStream, afterSeq: number, filter: { userId?: string; orderId?: string }): Promise<void> {
    stream.startAfter(afterSeq);
    let cursor = afterSeq;
    while (!stream.ended) {
      const events = await eventsAfter(db, cursor, filter, PAGE);
      for (const event of events) {
        stream.send(event);
        await stream.paced();
      }
      if (events.length < PAGE) return;
      cursor = events.at(-1)?.seq ?? cursor;
    }
  }

  async function run(
    principal: Principal,
    scope: StreamScope,
    stream: EventStream,
    fill: (position: number) => Promise<void>,
    needsAdmin: boolean,
  ): Promise<StreamOutcome> {
    const registration = await hub.open(principal.userId, scope, stream);
    // A stream lives no longer than the token that opened it: a password reset or a revoked
    // session ends streams too, within the token's lifetime, as it ends every other call. The
    // client reconnects with a fresh token and Last-Event-ID, and misses nothing.
    const expiry = principal.expiresAtMs === undefined ? undefined : setTimeout(() => stream.expire(), Math.max(0, principal.expiresAtMs - now()));
    expiry?.unref();
    const stopWatching = needsAdmin ? watchAdminRights(principal, stream) : undefined;
    const close = () => {
      clearTimeout(expiry);
      stopWatching?.();
      registration.close();
    };
    try {
      await fill(registration.position);
      stream.open();
      stream.goLive();
    } catch (error) {
      close();
      // Nothing sent yet: the error is the answer (503 when the database failed), not a 200 cut
      // short. Once the status is out, the stream ends and the client resumes from its last id.
      if (stream.opened) stream.end();
      throw error;
    }
    return { kind: 'streaming', close };
  }

  /** `GET /api/orders/:id/events` for an order the caller may see (`current`, as just read). */
  async function streamOrder(principal: Principal, current: Order, sentLastEventId: number | undefined, writer: SseWriter): Promise<StreamOutcome> {
    const lastEventId = await resumeAfter(sentLastEventId);
    if (lastEventId !== undefined && isTerminalStatus(current.status)) {
      // A client that saw the end reconnects (EventSource does): tell it there is nothing more.
      // With no event kept (older than the retention) it saw the end as a snapshot. Changes not
      // logged yet are more to come: the stream below waits for them.
      const { latest, unlogged } = await logStateOf(db, current.id);
      if (!unlogged && (!latest || latest.seq <= lastEventId)) return { kind: 'nothing-new' };
    }
    const stream = createEventStream(writer, { endAfterTerminal: true, stallMs });
    return run(principal, { kind: 'order', orderId: current.id }, stream, async (position) => {
      if (lastEventId !== undefined) return replay(stream, lastEventId, { orderId: current.id });
      const { latest, unlogged } = await logStateOf(db, current.id);
      if (latest && latest.order.history.length >= current.history.length) return stream.send(latest);
      // The order as read is ahead of the log. Its latest changes committed but not yet
      // sequenced (or placed a moment ago): their events come live within milliseconds (after
      // `position`: the log had none of them when read) and the one that has caught up is shown.
      // No id before it would do: resumed from any, the log's events of what the client saw
      // would come again. With nothing coming (its events past the retention), the order is
      // shown as read, and a resume gets only the changes after `position`.
      if (unlogged) return stream.showOnceLogged(current.history.length);
      stream.send({ seq: Math.max(position, latest?.seq ?? 0), order: current });
    }, current.userId !== principal.userId);
  }

  /** `GET /api/orders/events`: the caller's orders, or every order for an admin with `all`. */
  async function streamOrders(principal: Principal, all: boolean, sentLastEventId: number | undefined, writer: SseWriter): Promise<StreamOutcome> {
    const lastEventId = await resumeAfter(sentLastEventId);
    const everyone = all && isAdmin(principal);
    const scope: StreamScope = everyone ? { kind: 'all' } : { kind: 'user', userId: principal.userId };
    const stream = createEventStream(writer, { endAfterTerminal: false, stallMs });
    return run(principal, scope, stream, async (position) => {
      if (lastEventId === undefined) stream.startAfter(position);
      else await replay(stream, lastEventId, everyone ? {} : { userId: principal.userId });
    }, everyone);
  }

  return { streamOrder, streamOrders };
}

export type OrderStreams = ReturnType<typeof createOrderStreams>;
