import { renameSync, writeFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from './logger.js';
import { composeMail } from './mail-compose.js';
import { refusesForGood } from './mail-refusal.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Deterministic, so a resend after a crash is recognisable as the same message. */
  messageId: string;
}

/**
 * The SMTP server refused this message for good (see `refusesForGood`): sending it again would
 * be refused again. Every other failure may pass on a retry.
 */
export class MailRejectedError extends Error {
  override readonly name = 'MailRejectedError';
}

/** Nodemailer's errors carry the reply (`responseCode`, `response`) and the command it answered. */
function asRejection(error: unknown): unknown {
  const { responseCode, response, command } = (error ?? {}) as { responseCode?: unknown; response?: unknown; command?: unknown };
  if (typeof responseCode === 'number' && typeof response === 'string' && typeof command === 'string' && refusesForGood({ code: responseCode, text: response, command })) {
    return new MailRejectedError((error as Error).message, { cause: error });
  }
  return error;
}

export interface Mailer {
  readonly kind: 'smtp' | 'gmail' | 'file';
  /**
   * Rejects with MailRejectedError when the server refused the message for good, with any other
   * error when a retry may succeed. `signal`: aborting it ends the send (its connection closed),
   * rejecting with the signal's reason.
   */
  send(message: MailMessage, options?: { signal?: AbortSignal }): Promise<void>;
  /** Checks the server answers (SMTP) or the directory is writable (file). */
  verify(): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  smtpUrl: string | undefined;
  gmail: { user: string; pass: string } | undefined;
  from: string;
  dataDir: string;
  logger: Logger;
  /**
   * Write `.eml` files with blocking calls. Only for a process that serves no requests (a
   * worker): a blocking write holds up the event loop ~0.2 ms, and costs ~40 % less CPU than the
   * same four calls through libuv's thread pool (230 against 390 µs per file, measured here).
   */
  blockingFileWrites?: boolean;
  /** How long one SMTP send may take in all, queued on the pool included (default SEND_TIMEOUT_MS). */
  sendTimeoutMs?: number;
}

// Fail an attempt quickly while the server is down; the job's retries provide the patience.
// Pooled: a batch of emails goes over a few open connections instead of one handshake each.
const SMTP_TIMEOUTS = { connectionTimeout: 5_000, greetingTimeout: 5_000, socketTimeout: 15_000, pool: true, maxConnections: 5 };
/**
 * A bound on a whole send: the socket timeout notices only silence, and a server that trickles
 * its reply a line at a time (`250-…`) would hold a send forever, its email job renewing the
 * claim all along so that neither a retry nor the reconciler ever sent that email. Generous: a
 * batch's last messages wait their turn on the pool's few connections first. A message aborted
 * mid-reply may have been taken (a rare duplicate on the retry), never a lost one.
 */
const SEND_TIMEOUT_MS = 5 * 60_000;

/** The file transport's name for a message: its Message-ID, so a resend of the same message overwrites its own file. */
export function emlFileName(messageId: string): string {
  return `${messageId.replace(/[<>]/g, '').replace(/[^\w.@-]/g, '_')}.eml`;
}

/** With mail-compose.ts, the one place that touches Nodemailer: SMTP_URL, else Gmail (EMAIL_USER/PASS), else .eml files. */
export function createMailer(options: MailerOptions): Mailer {
  if (options.smtpUrl || options.gmail) {
    const transport: Transporter = options.smtpUrl
      ? nodemailer.createTransport({ url: options.smtpUrl, ...SMTP_TIMEOUTS })
      : nodemailer.createTransport({ service: 'gmail', auth: options.gmail, ...SMTP_TIMEOUTS });
    return {
      kind: options.smtpUrl ? 'smtp' : 'gmail',
      async send(message, { signal } = {}) {
        signal?.throwIfAborted();
        // Composed here in one pass (mail-compose.ts), then sent as is: the same bytes sendMail would compose, for a fraction of the CPU.
        const { raw, envelope } = await composeMail({ from: options.from, ...message });
        // Nodemailer honours `signal` (queued: taken off the queue; being sent: its connection
        // closed); its type definitions do not list it yet, hence the separate object.
        const timeout = AbortSignal.timeout(options.sendTimeoutMs ?? SEND_TIMEOUT_MS);
        const mail = { envelope, raw, signal: signal ? AbortSignal.any([timeout, signal]) : timeout };
        const info = (await transport.sendMail(mail).catch((error: unknown) => {
          throw asRejection(error);
        })) as { rejected?: unknown[]; rejectedErrors?: Error[] };
        // LMTP answers DATA per recipient, and Nodemailer resolves even when it refused ours.
        if (info.rejected && info.rejected.length > 0) throw asRejection(info.rejectedErrors?.[0] ?? new Error(`recipient refused: ${String(info.rejected[0])}`));
      },
      async verify() {
        await transport.verify();
      },
      close: () => transport.close(),
    };
  }
  const outbox = path.join(options.dataDir, 'mail');
  // Asynchronous file calls unless the process serves no requests: in the embedded default the
  // API process sends the emails, and a blocking write would hold up every request in flight.
  // Modes as well as the process umask (data-dir.ts): mail holds customers' addresses and orders.
  const outboxReady = () => mkdir(outbox, { recursive: true, mode: 0o700 });
  const place = options.blockingFileWrites
    ? (partial: string, eml: Buffer, file: string) => {
        writeFileSync(partial, eml, { mode: 0o600 });
        renameSync(partial, file);
        return Promise.resolve();
      }
    : async (partial: string, eml: Buffer, file: string) => {
        await writeFile(partial, eml, { mode: 0o600 });
        await rename(partial, file);
      };
  let partials = 0;
  return {
    kind: 'file',
    async send(message) {
      // What Nodemailer's stream transport would write (newline 'unix'), composed in one pass.
      const eml = (await composeMail({ from: options.from, ...message, newline: 'unix' })).raw;
      // Named after the Message-ID: a resend of the same message overwrites its own file.
      const file = path.join(outbox, emlFileName(message.messageId));
      // Written aside under a name that is not a message's, then renamed: a reader of the folder
      // never sees a half-written message.
      const partial = path.join(outbox, `.partial-${process.pid}-${++partials}`);
      try {
        await place(partial, eml, file);
      } catch (error) {
        // The folder is made when a write first finds it missing (first email, or removed since).
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        await outboxReady();
        await place(partial, eml, file);
      }
      options.logger.info('email written to file', { file, subject: message.subject });
    },
    async verify() {
      await outboxReady();
    },
    close: () => undefined,
  };
}
