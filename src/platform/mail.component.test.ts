import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { startSmtp, type SmtpOptions } from '../../test/smtp.js';
import { createMailer, MailRejectedError, type MailMessage } from './mail.js';

const logger = createLogger({ level: 'error', format: 'json', silent: true });
const parent = mkdtempSync(path.join(tmpdir(), 'ops-mail-'));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

const message = (subject: string): MailMessage => ({
  to: 'buyer@example.com',
  subject,
  text: `text of ${subject}`,
  html: `<p>html of ${subject}</p>`,
  messageId: '<order-1.completed@shop.example>',
});

// The file mailer (no SMTP_URL) on a real folder: the embedded default's API writes through the
// thread pool, a worker with blocking calls; both must leave the same files behind.
describe.each([
  { mode: 'thread-pool writes (an API process)', blockingFileWrites: false },
  { mode: 'blocking writes (a worker process)', blockingFileWrites: true },
])('file mailer, $mode', ({ blockingFileWrites }) => {
  const dataDir = mkdtempSync(path.join(parent, 'data-'));
  const outbox = path.join(dataDir, 'mail');
  const mailer = createMailer({ smtpUrl: undefined, gmail: undefined, from: 'shop@example.com', dataDir, logger, blockingFileWrites });

  it('writes one .eml named after the Message-ID, owner-only, in an owner-only folder it makes', async () => {
    await mailer.send(message('first'));
    expect(readdirSync(outbox)).toEqual(['order-1.completed@shop.example.eml']);
    const file = path.join(outbox, 'order-1.completed@shop.example.eml');
    expect(statSync(outbox).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const eml = readFileSync(file, 'utf8');
    expect(eml).toContain('Subject: first');
    expect(eml).toContain('To: buyer@example.com');
    expect(eml).toContain('text of first');
  });

  it('a resend of the same message replaces its file, leaving no partial file behind', async () => {
    await mailer.send(message('second'));
    expect(readdirSync(outbox)).toEqual(['order-1.completed@shop.example.eml']);
    expect(readFileSync(path.join(outbox, 'order-1.completed@shop.example.eml'), 'utf8')).toContain('Subject: second');
  });

  it('makes the folder again when it was removed since', async () => {
    rmSync(outbox, { recursive: true });
    await mailer.send(message('third'));
    expect(readdirSync(outbox)).toEqual(['order-1.completed@shop.example.eml']);
  });

  it('fails the send when the folder cannot be written (the job retries it)', async () => {
    rmSync(outbox, { recursive: true });
    // A file where the folder should be: writing into it fails, and so does the send.
    writeFileSync(outbox, 'not a folder');
    await expect(mailer.send(message('fourth'))).rejects.toThrow(/ENOTDIR/);
    rmSync(outbox);
    mailer.close();
  });
});

// What the email job needs to know from a failed send: refused for good (not retried) or not.
describe('SMTP mailer, a message the server refuses', () => {
  const send = async (options: SmtpOptions, to: string) => {
    const smtp = await startSmtp(options);
    const mailer = createMailer({ smtpUrl: smtp.url, gmail: undefined, from: 'shop@example.com', dataDir: parent, logger });
    try {
      return await mailer.send({ ...message('refusal'), to }).then(
        () => undefined,
        (error: unknown) => error as Error,
      );
    } finally {
      mailer.close();
      await smtp.stop();
    }
  };

  it('for good when the server answers 5xx to its recipient', async () => {
    const error = await send({ refuseRecipient: (address) => (address.startsWith('gone') ? 550 : undefined) }, 'gone@example.com');
    expect(error).toBeInstanceOf(MailRejectedError);
    expect(error?.message).toMatch(/550 No such user here/);
  });

  it('not for good when the server answers 4xx to its recipient (a retry may pass)', async () => {
    const error = await send({ refuseRecipient: () => 450 }, 'busy@example.com');
    expect(error?.message).toMatch(/450/);
    expect(error).not.toBeInstanceOf(MailRejectedError);
  });

  it('not for good when the server refuses our sender address (a setting to fix, true of every message)', async () => {
    const error = await send({ refuseSender: 550 }, 'buyer@example.com');
    expect(error?.message).toMatch(/550 Sender not allowed/);
    expect(error).not.toBeInstanceOf(MailRejectedError);
  });

  it('not at all when the server is down', async () => {
    const smtp = await startSmtp();
    await smtp.stop();
    const mailer = createMailer({ smtpUrl: smtp.url, gmail: undefined, from: 'shop@example.com', dataDir: parent, logger });
    const error = await mailer.send(message('down')).catch((caught: unknown) => caught as Error);
    mailer.close();
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(MailRejectedError);
  });
});
