import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface WebhookMetrics {
  attempted(outcome: 'succeeded' | 'retrying' | 'failed', seconds: number): void;
}

/** Webhook delivery metrics on the process's registry; the backlog is read at scrape time. */
export function registerWebhookMetrics(registry: Registry, backlog: () => Promise<{ webhookId: string; pending: number }[]>): WebhookMetrics {
  const attempts = new Counter({
    name: 'webhook_delivery_attempts_total',
    help: 'Webhook delivery attempts by outcome: succeeded, retrying (will be tried again), failed (gave up)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'webhook_delivery_attempt_seconds',
    help: 'Duration of one webhook delivery attempt (until the answer, an error or the timeout)',
    labelNames: ['outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
    registers: [registry],
  });
  new Gauge({
    name: 'webhook_deliveries_pending',
    help: 'Webhook deliveries not yet succeeded or failed, per endpoint',
    labelNames: ['webhook_id'],
    registers: [registry],
    async collect() {
      // A scrape while the database is down reports no backlog rather than failing, or than the
      // last one read (which would pass for the backlog now).
      const rows = await backlog().catch(() => undefined);
      this.reset();
      if (!rows) return;
      for (const row of rows) this.set({ webhook_id: row.webhookId }, row.pending);
    },
  });
  return {
    attempted(outcome, seconds) {
      attempts.inc({ outcome });
      latency.observe({ outcome }, seconds);
    },
  };
}
