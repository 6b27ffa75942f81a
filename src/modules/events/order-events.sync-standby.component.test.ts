import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useStandbyTestServer } from '../../../test/sync-standby.js';
import { waitUntil } from '../../../test/wait.js';
import { eventsAfter, lastSeq, logStateOf } from './order-events.repository.js';

const standby = useStandbyTestServer();

const insertEvent = (outboxId: number, orderId: string) =>
  `INSERT INTO order_events (outbox_id, order_id, user_id, type, "order") VALUES (${outboxId}, '${orderId}', '${randomUUID()}', 'order.placed', '{}')`;

describe('order event reads on a primary with a synchronous standby', () => {
  it('answer only once the standby holds what they read: a commit the standby never got is not handed out', async () => {
    const { server, db, admin } = standby;
    const orderId = randomUUID();
    await admin.query(insertEvent(1, orderId));
    await server.set('synchronous_standby_names', 'a_standby_that_never_answers');

    await standby.commitSeenHereOnly(insertEvent(2, orderId));
    // A plain read sees it: the state the reads below must not answer from.
    expect((await admin.query('SELECT seq FROM order_events ORDER BY seq')).rows.map((row: { seq: string }) => Number(row.seq))).toEqual([1, 2]);

    let settled = false;
    const reads = Promise.all([eventsAfter(db, 0, {}, 10), logStateOf(db, orderId), lastSeq(db)]).finally(() => {
      settled = true;
    });
    await waitUntil(async () => settled || (await standby.waitingForStandby()).length >= 3, 10_000, 'the reads to answer or wait for the standby');
    expect(settled, 'a read answered with a commit the standby does not hold').toBe(false);

    // The standby requirement goes (here: dropped; in a real cluster the standby catches up), and
    // the reads answer with what is now safe to hand out.
    await server.set('synchronous_standby_names', '');
    const [events, state, last] = await reads;
    expect(events.map((event) => event.seq)).toEqual([1, 2]);
    expect(state.latest?.seq).toBe(2);
    expect(last).toBe(2);
  });
});
