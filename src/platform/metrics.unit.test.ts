import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';
import { registerWebhookMetrics } from './webhook-metrics.js';

/** The sample lines of one metric in the registry's text (no HELP/TYPE comments). */
async function samples(registry: Registry, name: string): Promise<string[]> {
  const text = await registry.getSingleMetricAsString(name);
  return text.split('\n').filter((line) => line.startsWith(name));
}

/** A source that answers `value`, or fails while `down` is set (its database or Redis is out). */
function source<T>(value: T) {
  const state = { down: false, value };
  return { state, read: () => (state.down ? Promise.reject(new Error('connection refused')) : Promise.resolve(state.value)) };
}

describe('gauges read at scrape time', () => {
  it('when the database stops answering, then the lag gauges report no sample rather than their last value', async () => {
    const lag = source(42);
    const emails = source(7);
    const metrics = createMetrics({ role: 'api', processingLag: lag.read, emailLag: emails.read });
    expect(await samples(metrics.registry, 'order_processing_lag_seconds')).toEqual(['order_processing_lag_seconds{role="api"} 42']);
    expect(await samples(metrics.registry, 'email_delivery_lag_seconds')).toEqual(['email_delivery_lag_seconds{role="api"} 7']);

    lag.state.down = true;
    emails.state.down = true;
    expect(await samples(metrics.registry, 'order_processing_lag_seconds')).toEqual([]);
    expect(await samples(metrics.registry, 'email_delivery_lag_seconds')).toEqual([]);

    lag.state.down = false;
    lag.state.value = 3;
    expect(await samples(metrics.registry, 'order_processing_lag_seconds')).toEqual(['order_processing_lag_seconds{role="api"} 3']);
  });

  it('when Redis stops answering, then queue_jobs reports no sample rather than the last counts', async () => {
    const counts = source({ waiting: 5, active: 1, delayed: 0, failed: 2 });
    const metrics = createMetrics({ role: 'api', queue: { counts: counts.read } });
    expect(await samples(metrics.registry, 'queue_jobs')).toHaveLength(4);
    counts.state.down = true;
    expect(await samples(metrics.registry, 'queue_jobs')).toEqual([]);
  });

  it('when the database stops answering, then webhook_deliveries_pending reports no sample rather than the last backlog', async () => {
    const registry = new Registry();
    const backlog = source([{ webhookId: 'w1', pending: 4 }]);
    registerWebhookMetrics(registry, backlog.read);
    expect(await samples(registry, 'webhook_deliveries_pending')).toEqual(['webhook_deliveries_pending{webhook_id="w1"} 4']);
    backlog.state.down = true;
    expect(await samples(registry, 'webhook_deliveries_pending')).toEqual([]);
  });
});
