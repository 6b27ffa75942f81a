import { describe, expect, it } from 'vitest';
import { ORDER_STATUSES } from '../modules/orders/order-status.js';
import { JOB_TOPICS, jobsFor, SUBSCRIBED_TOPICS } from './outbox-routes.js';

const ORDER = '6f1c1f39-4a3c-4d53-9d7e-3c2f1f0b8a11';
const OTHER = '0b0d5a4e-8f5e-4c1a-9a57-1a2b3c4d5e6f';
const event = (topic: string, id = 1, aggregateId = ORDER) => ({ id, topic, aggregateId });
const ORDER_TOPICS = ['order.placed', ...ORDER_STATUSES.filter((status) => status !== 'pending').map((status) => `order.${status}`)];

describe('outbox routing', () => {
  it('starts processing for a placed order, one email per outcome, the void of a failed order’s charge, and a cache refresh after a cancellation', () => {
    expect(jobsFor([event('order.placed')]).jobs).toMatchObject([{ name: 'process-order', data: { orderIds: [ORDER] } }]);
    expect(jobsFor([event('order.processing')]).jobs).toEqual([]);
    expect(jobsFor([event('order.completed')]).jobs).toMatchObject([{ name: 'send-order-email', data: { orderIds: [ORDER], kind: 'order_confirmation' } }]);
    expect(jobsFor([event('order.failed')]).jobs).toMatchObject([
      { name: 'send-order-email', data: { orderIds: [ORDER], kind: 'order_failure' } },
      { name: 'void-payment', id: `void-payment-${ORDER}`, data: { orderIds: [ORDER] } },
    ]);
    expect(jobsFor([event('order.cancelled')]).jobs).toMatchObject([{ name: 'refresh-order-cache', data: { orderId: ORDER } }]);
  });

  it('routes every topic an order writes, and writes every one (the order event stream needs each status change)', () => {
    const { unrouted } = jobsFor(ORDER_TOPICS.map((topic, i) => event(topic, i)));
    expect(unrouted).toEqual([]);
    expect([...SUBSCRIBED_TOPICS].sort()).toEqual([...ORDER_TOPICS].sort());
  });

  it('names as job topics exactly those whose events start a job (the others are written already published)', () => {
    for (const topic of ORDER_TOPICS) {
      expect(JOB_TOPICS.has(topic as never), topic).toBe(jobsFor([event(topic)]).jobs.length > 0);
    }
    expect(JOB_TOPICS.has('order.processing')).toBe(false);
  });

  it('hands the orders of one topic in a batch to one job', () => {
    expect(jobsFor([event('order.placed', 1), event('order.placed', 2, OTHER)]).jobs).toMatchObject([{ name: 'process-order', data: { orderIds: [ORDER, OTHER] } }]);
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
