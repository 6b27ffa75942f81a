import { describe, expect, it } from 'vitest';
import { orderEmailJob, orderEmailJobs, resendEmailJobs } from './send-order-email.js';

const orderId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const idsOf = (jobs: readonly { id: string; data: { orderIds: readonly string[] } }[]) => jobs.map((job) => [job.id, job.data.orderIds.length]);

/**
 * Email job ids are persisted in Redis and deduplicate work: a version that named the same batch
 * differently would send it again during a rolling upgrade. These are the ids as released.
 */
describe('email job ids', () => {
  it('when an order is finished, then its email job is email-<kind>-<orderId>; a batch of them is named by a digest of its orders, 50 a job', () => {
    expect(orderEmailJob([orderId(1)], 'order_confirmation').id).toBe(`email-order_confirmation-${orderId(1)}`);
    const ids = Array.from({ length: 51 }, (_, i) => orderId(i + 1));
    expect(idsOf(orderEmailJobs(ids, 'order_failure'))).toEqual([
      ['email-order_failure-batch-129e7609827d8cfbd6b485c0', 50],
      [`email-order_failure-${orderId(51)}`, 1],
    ]);
  });

  it('when emails are resent, then each kind gets its own jobs: a digest of the emails and their attempts, or the single resend id for a lone one', () => {
    const reopened = [
      ...[1, 2, 3].map((n) => ({ orderId: orderId(n), kind: 'order_failure' as const, attempts: n })),
      { orderId: orderId(9), kind: 'order_confirmation' as const, attempts: 4 },
    ];
    expect(idsOf(resendEmailJobs(reopened))).toEqual([
      ['email-order_failure-resend-batch-77261cdc17501c74f2df2de9', 3],
      [`email-order_confirmation-${orderId(9)}-resend-4`, 1],
    ]);
  });
});
