import { describe, expect, it } from 'vitest';
import { ORDER_STATUSES } from '../modules/orders/order-status.js';
import { jobsFor, PUBLISHED_JOB_NAMES } from './outbox-routes.js';

const ORDER = '6f1c1f39-4a3c-4d53-9d7e-3c2f1f0b8a11';
const event = (topic: string, id = 1) => ({ id, topic, aggregateId: ORDER });

describe('outbox routing', () => {
  it('starts processing for a placed order, one email per outcome, and a cache refresh after a cancellation', () => {
    expect(jobsFor([event('order.placed')]).jobs).toEqual([{ name: 'process-order', id: `process-order-${ORDER}`, data: { orderId: ORDER } }]);
    expect(jobsFor([event('order.processing')]).jobs).toEqual([]);
    expect(jobsFor([event('order.completed')]).jobs).toEqual([
      { name: 'send-order-email', id: `email-order_confirmation-${ORDER}`, data: { orderId: ORDER, kind: 'order_confirmation' } },
    ]);
    expect(jobsFor([event('order.failed')]).jobs).toEqual([
      { name: 'send-order-email', id: `email-order_failure-${ORDER}`, data: { orderId: ORDER, kind: 'order_failure' } },
    ]);
    expect(jobsFor([event('order.cancelled')]).jobs).toEqual([
      { name: 'refresh-order-cache', id: `refresh-order-cache-cancelled-${ORDER}`, data: { orderId: ORDER } },
    ]);
  });

  it('routes every topic an order writes (placed, then each later status), and publishes only job names the worker checks for', () => {
    const topics = ['order.placed', ...ORDER_STATUSES.filter((status) => status !== 'pending').map((status) => `order.${status}`)];
    const { jobs, unrouted } = jobsFor(topics.map((topic, i) => event(topic, i)));
    expect(unrouted).toEqual([]);
    for (const job of jobs) expect(PUBLISHED_JOB_NAMES).toContain(job.name);
  });

  it('gives the same event the same job ids, so publishing it twice is one job', () => {
    const once = jobsFor([event('order.placed', 1)]).jobs;
    expect(jobsFor([event('order.placed', 2)]).jobs).toEqual(once);
  });

  it('hands back events with an unknown topic instead of dropping them silently', () => {
    const unknown = event('order.shipped', 7);
    expect(jobsFor([event('order.placed'), unknown])).toMatchObject({ unrouted: [unknown], jobs: [{ name: 'process-order' }] });
  });
});
