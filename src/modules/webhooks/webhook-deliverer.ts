import type { Database } from '../../platform/db/index.js';
import { errorFields, type Logger } from '../../platform/logger.js';
import type { Signal } from '../../platform/signal.js';
import { retryDelayMs } from './backoff.js';
import { claimDueDeliveries, recordAttempt, type ClaimedDelivery } from './deliveries.repository.js';
import { anyEnabledWebhook } from './webhooks.repository.js';
import { sendWebhook } from './send-webhook.js';
import { signatureHeader } from './signature.js';

export interface WebhookSettings {
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  /** Deliveries one process sends at once (at most one per endpoint). */
  concurrency: number;
  pollMs: number;
  allowPrivateUrls: boolean;
}

export interface WebhookObserver {
  attempted(outcome: 'succeeded' | 'retrying' | 'failed', seconds: number): void;
}

/**
 * Sends due deliveries from the database, on its own: it holds no queue slot and no database
 * connection while waiting for an endpoint, so a slow or dead endpoint delays only its own
 * deliveries — never orders, emails or other endpoints.
 *
 * The event signal wakes it for every batch of order events; while no endpoint is enabled
 * (the common case) those wake-ups claim nothing and cost no statement. Whether one is, is read
 * again on every poll, so an endpoint registered in another process has its deliveries claimed
 * within one `pollMs`, the bound a lost signal already had; `webhooksChanged()` (this process
 * registered or changed one) reads it at once.
 */
export function startWebhookDeliverer(deps: { db: Database; signal: Signal; settings: WebhookSettings; logger: Logger; observer: WebhookObserver }): {
  webhooksChanged(): void;
  stop(): Promise<void>;
} {
  const { db, settings, logger } = deps;
  // Longer than one attempt, so a live sender's claim never runs out under it.
  const leaseMs = settings.timeoutMs + 5000;
  const inFlight = new Map<string, Promise<void>>();
  let stopped = false;
  /** The claim round under way, if any: what it claims is sent even when `stop()` came meanwhile. */
  let claiming: Promise<void> | undefined;
  let claimAgain = false;
  /** Whether an endpoint is enabled, as last read; undefined: read it before the next claim. */
  let anyWebhooks: boolean | undefined;
  // A read that a recheck overtook may predate the change: it is not kept.
  let rechecks = 0;

  async function attempt(claim: ClaimedDelivery): Promise<void> {
    const body = JSON.stringify(claim.payload);
    const timestamp = Math.floor(Date.now() / 1000);
    const started = process.hrtime.bigint();
    const outcome = await sendWebhook({
      url: claim.url,
      body,
      timeoutMs: settings.timeoutMs,
      allowPrivate: settings.allowPrivateUrls,
      headers: { 'webhook-id': claim.eventId, 'webhook-timestamp': String(timestamp), 'webhook-signature': signatureHeader(claim.secrets, claim.eventId, timestamp, body) },
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const retryInMs = outcome.ok || claim.attempts >= (claim.attemptsAllowed ?? settings.maxAttempts) ? undefined : retryDelayMs(claim.attempts, settings.retryBaseMs);
    const recorded = await recordAttempt(db, claim, { ...outcome, retryInMs });
    // What became of the delivery, as recorded: a failure is not retried once its endpoint was
    // disabled during the attempt, and a redelivery asked meanwhile keeps it pending. (A claim
    // lost meanwhile recorded nothing: another sender has the delivery.)
    const failedForGood = !outcome.ok && (recorded ?? (retryInMs === undefined ? 'failed' : 'pending')) === 'failed';
    deps.observer.attempted(outcome.ok ? 'succeeded' : failedForGood ? 'failed' : 'retrying', seconds);
    if (failedForGood) logger.warn('webhook delivery failed for good', { deliveryId: claim.id, webhookId: claim.webhookId, attempts: claim.attempts, error: outcome.error });
  }

  async function claimRound(): Promise<void> {
    const free = settings.concurrency - inFlight.size;
    if (free <= 0 || stopped) return;
    if (anyWebhooks === undefined) {
      const readAt = rechecks;
      const any = await anyEnabledWebhook(db);
      if (readAt === rechecks) anyWebhooks = any;
      if (!any) return;
    } else if (!anyWebhooks) return;
    const claims = await claimDueDeliveries(db, { limit: free, leaseMs, busyWebhookIds: [...inFlight.keys()] });
    for (const claim of claims) {
      const running = attempt(claim)
        .catch((error: unknown) => {
          logger.warn('webhook attempt could not be recorded; its lease will run out and it will be retried', { deliveryId: claim.id, ...errorFields(error) });
        })
        .finally(() => {
          inFlight.delete(claim.webhookId);
          wake();
        });
      inFlight.set(claim.webhookId, running);
    }
    if (claims.length === free) claimAgain = true;
  }

  function wake(): void {
    if (stopped) return;
    if (claiming) {
      claimAgain = true;
      return;
    }
    claiming = claimRound()
      .catch((error: unknown) => void logger.warn('webhook claim failed; retrying on the next poll', errorFields(error)))
      .finally(() => {
        claiming = undefined;
        if (claimAgain) {
          claimAgain = false;
          wake();
        }
      });
  }

  /** A wake-up when something may have changed besides new events: read the endpoints again. */
  function recheck(): void {
    rechecks++;
    anyWebhooks = undefined;
    wake();
  }

  const listener = deps.signal.listen(wake);
  const poll = setInterval(recheck, settings.pollMs);
  poll.unref();
  wake();
  return {
    webhooksChanged: recheck,
    async stop() {
      stopped = true;
      clearInterval(poll);
      listener.close();
      // A claim under way is waited for too: the deliveries it takes are leased and counted, and
      // their attempts start once it answers. Not waited for, they went out after stop()
      // resolved, when the database was closing, so their outcome was never recorded and each
      // was sent again once its lease ran out.
      // An attempt still running after a moment is abandoned: its lease runs out and another
      // sender retries it with the same webhook-id (receivers dedupe), as after a crash.
      const settled = (async () => {
        await claiming;
        await Promise.allSettled([...inFlight.values()]);
      })();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([settled, new Promise((resolve) => (timer = setTimeout(resolve, 3000)))]);
      clearTimeout(timer);
    },
  };
}
