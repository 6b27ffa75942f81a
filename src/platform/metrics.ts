import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry, type GaugeConfiguration } from 'prom-client';

/**
 * What the service reports to Prometheus. Services get this small interface, not prom-client,
 * and each runtime has its own registry (several apps can live in one test process).
 */
export interface Metrics {
  readonly registry: Registry;
  observeHttp(method: string, route: string, status: number, seconds: number): void;
  orderPlaced(): void;
  orderCancelled(): void;
  /** `placedAt` (ISO) gives the placed → finished latency. */
  orderFinished(status: 'completed' | 'failed', placedAt: string): void;
  cacheLookup(result: 'hit' | 'miss'): void;
  emailSent(): void;
  emailAttemptFailed(): void;
  emailGaveUp(): void;
  emailRejected(): void;
  /** Time an order spent in one stage of processing (`placed_to_processing`, `processing_to_finished`, `finished_to_email_sent`). */
  orderStage(stage: OrderStage, seconds: number): void;
  /** Events one relay round published. */
  relayBatch(events: number): void;
  /** This worker's part in the pool: `leader` and `helper` fetch jobs, `standby` waits. */
  workerRole(role: 'leader' | 'helper' | 'standby'): void;
}

/**
 * A gauge read at scrape time. A failed read (database down) reports no sample rather than
 * failing the scrape, and rather than the last value read, which would pass for the state now
 * (a lag frozen at 0 s through an outage); `absent()` is what tells that it is missing.
 */
class ReadAtScrape extends Gauge {
  readonly #read: () => Promise<number>;

  constructor(configuration: GaugeConfiguration<string>, read: () => Promise<number>) {
    super(configuration);
    this.#read = read;
  }

  override async get(): ReturnType<Gauge['get']> {
    const value = await this.#read().catch(() => undefined);
    if (value === undefined) return { ...(await super.get()), values: [] };
    this.set(value);
    return super.get();
  }
}

export type OrderStage = 'placed_to_processing' | 'processing_to_finished' | 'finished_to_email_sent';

export interface QueueDepth {
  counts(): Promise<{ waiting: number; active: number; delayed: number; failed: number }>;
}

export function createMetrics(options: {
  role: 'api' | 'worker';
  queue?: QueueDepth;
  /** Age in seconds of the oldest order not yet processed (0 when none), read at scrape time. */
  processingLag?: () => Promise<number>;
  /** How long the oldest email owed has waited to be sent (0 when none), read at scrape time. */
  emailLag?: () => Promise<number>;
}): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role: options.role });
  collectDefaultMetrics({ register: registry });

  const http = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route pattern and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const orders = new Counter({ name: 'orders_total', help: 'Orders by outcome: placed, completed, failed, cancelled', labelNames: ['event'], registers: [registry] });
  const latency = new Histogram({
    name: 'order_placed_to_finished_seconds',
    help: 'Time from placement to completed or failed',
    labelNames: ['status'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const cache = new Counter({ name: 'order_cache_lookups_total', help: 'Order cache lookups by result', labelNames: ['result'], registers: [registry] });
  const emails = new Counter({ name: 'emails_total', help: 'Order emails: sent, attempt_failed (will retry), gave_up (the reconciler retries later), rejected (undeliverable: refused by the mail server for good, or still failing after EMAIL_MAX_RETRY_HOURS; not retried)', labelNames: ['event'], registers: [registry] });
  const stages = new Histogram({
    name: 'order_stage_seconds',
    help: 'Time an order spent in each stage: placed_to_processing, processing_to_finished, finished_to_email_sent',
    labelNames: ['stage'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const relayBatches = new Histogram({
    name: 'outbox_relay_batch_size',
    help: 'Outbox events published per relay round',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500],
    registers: [registry],
  });
  const workerRole = new Gauge({
    name: 'worker_pool_role',
    help: "1 for this worker's current part in the pool: leader and helper fetch jobs, standby waits until the active workers are short",
    labelNames: ['role'],
    registers: [registry],
  });
  const gaugeOf = (name: string, help: string, read: () => Promise<number>) => new ReadAtScrape({ name, help, registers: [registry] }, read);
  if (options.processingLag) {
    gaugeOf('order_processing_lag_seconds', 'Age of the oldest order still pending or processing (0 when none): how far processing is behind', options.processingLag);
  }
  if (options.emailLag) {
    gaugeOf('email_delivery_lag_seconds', 'How long the oldest order email owed has waited to be sent (0 when none): mail is behind or down', options.emailLag);
  }
  if (options.queue) {
    const queue = options.queue;
    new Gauge({
      name: 'queue_jobs',
      help: 'Jobs in the order queue by state',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        // A scrape while Redis is down reports nothing for the queue rather than failing.
        const counts = await queue.counts().catch(() => undefined);
        // Not the last counts either: they would pass for the queue's state now.
        this.reset();
        if (!counts) return;
        for (const [state, value] of Object.entries(counts)) this.set({ state }, value);
      },
    });
  }

  return {
    registry,
    observeHttp: (method, route, status, seconds) => http.observe({ method, route, status: String(status) }, seconds),
    orderPlaced: () => orders.inc({ event: 'placed' }),
    orderCancelled: () => orders.inc({ event: 'cancelled' }),
    orderFinished(status, placedAt) {
      orders.inc({ event: status });
      latency.observe({ status }, Math.max(0, (Date.now() - Date.parse(placedAt)) / 1000));
    },
    cacheLookup: (result) => cache.inc({ result }),
    emailSent: () => emails.inc({ event: 'sent' }),
    emailAttemptFailed: () => emails.inc({ event: 'attempt_failed' }),
    emailGaveUp: () => emails.inc({ event: 'gave_up' }),
    emailRejected: () => emails.inc({ event: 'rejected' }),
    orderStage: (stage, seconds) => stages.observe({ stage }, Math.max(0, seconds)),
    relayBatch: (events) => relayBatches.observe(events),
    workerRole(role) {
      for (const each of ['leader', 'helper', 'standby'] as const) workerRole.set({ role: each }, each === role ? 1 : 0);
    },
  };
}
