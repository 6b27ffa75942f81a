import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from './logger.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Deterministic, so a resend after a crash is recognisable as the same message. */
  messageId: string;
}

export interface Mailer {
  readonly kind: 'smtp' | 'gmail' | 'file';
  send(message: MailMessage): Promise<void>;
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
}

// Fail an attempt quickly while the server is down; the job's retries provide the patience.
// Pooled: a batch of emails goes over a few open connections instead of one handshake each.
const SMTP_TIMEOUTS = { connectionTimeout: 5_000, greetingTimeout: 5_000, socketTimeout: 15_000, pool: true, maxConnections: 5 };

/** The one file that touches Nodemailer: SMTP_URL, else Gmail (EMAIL_USER/PASS), else .eml files. */
export function createMailer(options: MailerOptions): Mailer {
  if (options.smtpUrl || options.gmail) {
    const transport: Transporter = options.smtpUrl
      ? nodemailer.createTransport({ url: options.smtpUrl, ...SMTP_TIMEOUTS })
      : nodemailer.createTransport({ service: 'gmail', auth: options.gmail, ...SMTP_TIMEOUTS });
    return {
      kind: options.smtpUrl ? 'smtp' : 'gmail',
      async send(message) {
        await transport.sendMail({ from: options.from, ...message });
      },
      async verify() {
        await transport.verify();
      },
      close: () => transport.close(),
    };
  }
  const outbox = path.join(options.dataDir, 'mail');
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  // Asynchronous file calls: in the embedded default the API process sends the emails, and a
  // synchronous write (~1 ms here) would hold up every request in flight.
  // Modes as well as the process umask (data-dir.ts): mail holds customers' addresses and orders.
  const outboxReady = () => mkdir(outbox, { recursive: true, mode: 0o700 });
  let partials = 0;
  return {
    kind: 'file',
    async send(message) {
      const mail = { from: options.from, ...message };
      const eml = ((await transport.sendMail(mail)) as { message: Buffer }).message;
      // Named after the Message-ID: a resend of the same message overwrites its own file.
      const file = path.join(outbox, `${message.messageId.replace(/[<>]/g, '').replace(/[^\w.@-]/g, '_')}.eml`);
      // Written aside under a name that is not a message's, then renamed: a reader of the folder
      // never sees a half-written message.
      const partial = path.join(outbox, `.partial-${process.pid}-${++partials}`);
      try {
        await writeFile(partial, eml, { mode: 0o600 });
      } catch (error) {
        // The folder is made when a write first finds it missing (first email, or removed since).
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        await outboxReady();
        await writeFile(partial, eml, { mode: 0o600 });
      }
      await rename(partial, file);
      options.logger.info('email written to file', { file, subject: message.subject });
    },
    async verify() {
      await outboxReady();
    },
    close: () => transport.close(),
  };
}
