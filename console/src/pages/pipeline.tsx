import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { api, messageOf } from '../api.js';
import { ErrorMessage, Loading, PageTitle, useAction } from '../components.js';
import { clock, seconds } from '../format.js';
import type { PipelineSnapshot } from '../types.js';

const REFRESH_MS = 5000;
const SERIES = [
  { key: 'placed', label: 'Placed /s', stroke: '#1d4ed8' },
  { key: 'completed', label: 'Completed /s', stroke: '#047857' },
  { key: 'failed', label: 'Failed /s', stroke: '#b91c1c' },
] as const;

export function PipelinePage() {
  const snapshot = useSignal<PipelineSnapshot | null>(null);
  const error = useSignal<string | null>(null);
  const minutes = useSignal(10);
  // Bumped after a bulk resend, to read the pipeline again at once.
  const reloads = useSignal(0);
  const resent = useSignal<number | null>(null);

  useEffect(() => {
    let stopped = false;
    const load = () =>
      api<PipelineSnapshot>(`/api/admin/pipeline?minutes=${minutes.value}`).then(
        (answer) => {
          if (stopped) return;
          snapshot.value = answer;
          error.value = null;
        },
        (caught: unknown) => {
          if (!stopped) error.value = messageOf(caught);
        },
      );
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [minutes.value, reloads.value]);

  const current = snapshot.value;
  return (
    <main id="main">
      <PageTitle
        actions={
          <label class="field inline">
            <span class="label">Window</span>
            <select value={String(minutes.value)} onChange={(e) => (minutes.value = Number(e.currentTarget.value))}>
              <option value="5">5 minutes</option>
              <option value="10">10 minutes</option>
              <option value="30">30 minutes</option>
              <option value="60">1 hour</option>
            </select>
          </label>
        }
      >
        Pipeline
      </PageTitle>
      <ErrorMessage message={error.value} />
      {current === null ? (
        error.value ? null : <Loading what="the pipeline" />
      ) : (
        <>
          <Stats snapshot={current} />
          {current.emails.undeliverable > 0 || resent.value !== null ? (
            <ResendAll
              undeliverable={current.emails.undeliverable}
              resent={resent.value}
              onResent={(count) => {
                resent.value = count;
                reloads.value++;
              }}
            />
          ) : null}
          <section class="card" aria-labelledby="chart-heading">
            <h2 id="chart-heading">Orders per second, last {current.windowMinutes} minutes</h2>
            <ThroughputChart snapshot={current} />
            <p class="muted">
              Averaged over {current.bucketSeconds} s buckets; updated {clock(current.generatedAt)}.
            </p>
          </section>
        </>
      )}
    </main>
  );
}

/** Sends every undeliverable email again (after an outage of the shop's mail server); the page is for admins only. */
function ResendAll({ undeliverable, resent, onResent }: { undeliverable: number; resent: number | null; onResent: (count: number) => void }) {
  const sending = useAction();
  const error = useSignal<string | null>(null);
  const send = () =>
    sending.run(async () => {
      try {
        const { reopened } = await api<{ reopened: number }>('/api/admin/emails/resend', { method: 'POST', body: {} });
        error.value = null;
        onResent(reopened);
      } catch (caught) {
        error.value = messageOf(caught);
      }
    });
  return (
    <section class="card resend-all" aria-labelledby="resend-heading">
      <h2 id="resend-heading">Emails that could not be delivered</h2>
      <ErrorMessage message={error.value} />
      {resent !== null ? (
        <p role="status" class="resend-status">
          {resent} email{resent === 1 ? ' is' : 's are'} being sent again.
        </p>
      ) : null}
      {undeliverable > 0 ? (
        <p>
          <button type="button" onClick={() => void send()} disabled={sending.pending.value}>
            Send all again
          </button>{' '}
          <span class="muted">
            {undeliverable} email{undeliverable === 1 ? '' : 's'}, once the mail server or the addresses are fixed (after an outage, say)
          </span>
        </p>
      ) : null}
    </section>
  );
}

/** "2 workers connected, 1 fetching jobs, 1 on standby", as an operator reads it. */
export function describeWorkers({ connected, fetching }: { connected: number; fetching: number }): string {
  if (connected === 0) return 'No worker is connected: orders wait until one starts.';
  const standby = Math.max(0, connected - fetching);
  const workers = `${connected} worker${connected === 1 ? '' : 's'} connected`;
  return standby > 0 ? `${workers}: ${fetching} fetching jobs, ${standby} on standby (they join when the active ones fall short).` : `${workers}, all fetching jobs.`;
}

function Stats({ snapshot }: { snapshot: PipelineSnapshot }) {
  // The last full minute, so a half-filled current bucket does not read as a drop.
  const recent = snapshot.throughput.slice(-7, -1);
  const rate = (key: 'placed' | 'completed') => recent.reduce((sum, bucket) => sum + bucket[key], 0) / Math.max(1, recent.length * snapshot.bucketSeconds);
  const { queue } = snapshot;
  const cards: [string, string, string?][] = [
    ['Placed', `${rate('placed').toFixed(1)}/s`, `${snapshot.totals.placed} in the window`],
    ['Completed', `${rate('completed').toFixed(1)}/s`, `${snapshot.totals.completed} in the window`],
    ['Backlog', String(snapshot.backlog.pending + snapshot.backlog.processing), `${snapshot.backlog.pending} pending, ${snapshot.backlog.processing} processing`],
    ['Oldest pending', seconds(snapshot.lag.oldestPendingSeconds), 'how long the oldest waiting order has waited'],
    ['Placed → done', seconds(snapshot.lag.p50Seconds), `p50; p95 ${seconds(snapshot.lag.p95Seconds)}`],
    ['Failed orders', String(snapshot.totals.failed), 'in the window'],
    [
      'Emails unsent',
      String(snapshot.emails.pending),
      snapshot.emails.pending > 0 ? `oldest owed ${seconds(snapshot.emails.oldestPendingSeconds)}` : 'every email owed went out',
    ],
    ['Emails refused', String(snapshot.emails.undeliverable), 'refused for good, or given up after their retry lifetime (all time)'],
    [
      'Failed jobs',
      queue.reachable ? String(queue.failed) : 'unknown',
      queue.reachable ? `${queue.waiting} waiting, ${queue.active} active, ${queue.delayed} retrying later` : 'the queue is not answering',
    ],
  ];
  return (
    <>
      <dl class="stats">
        {cards.map(([label, value, note]) => (
          <div key={label} class="card stat" data-stat={label}>
            <dt>{label}</dt>
            <dd>
              <span class="stat-value">{value}</span>
              {note ? <span class="muted">{note}</span> : null}
            </dd>
          </div>
        ))}
      </dl>
      <p class="muted">
        Queue: {queue.kind === 'bullmq' ? 'Redis (BullMQ)' : 'in-process (embedded mode)'}.{' '}
        {queue.workers ? <span class="queue-workers">{describeWorkers(queue.workers)} </span> : null}
        {snapshot.dashboardPath ? (
          <a href={snapshot.dashboardPath} target="_blank" rel="noopener">
            Open the queue dashboard
          </a>
        ) : null}
      </p>
    </>
  );
}

function ThroughputChart({ snapshot }: { snapshot: PipelineSnapshot }) {
  const container = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);

  const data = (): uPlot.AlignedData => [
    snapshot.throughput.map((bucket) => Date.parse(bucket.at) / 1000),
    ...SERIES.map((series) => snapshot.throughput.map((bucket) => bucket[series.key] / snapshot.bucketSeconds)),
  ];

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const options: uPlot.Options = {
      width: Math.max(280, element.clientWidth),
      height: 280,
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{}, { label: 'orders/s', size: 60 }],
      series: [{ label: 'Time' }, ...SERIES.map((series) => ({ label: series.label, stroke: series.stroke, width: 2, points: { show: false } }))],
    };
    const plot = new uPlot(options, data(), element);
    chart.current = plot;
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, element.clientWidth), height: 280 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setData(data());
  }, [snapshot]);

  const last = snapshot.throughput.at(-1);
  return (
    <figure class="chart">
      <div ref={container} role="img" aria-label={`Line chart of orders placed, completed and failed per second. Latest bucket: ${last?.placed ?? 0} placed, ${last?.completed ?? 0} completed, ${last?.failed ?? 0} failed.`} />
    </figure>
  );
}
