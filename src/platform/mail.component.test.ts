import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { startSmtp, startTricklingSmtp, type SmtpOptions } from '../../test/smtp.js';
import { settledWithin } from '../../test/wait.js';
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

// What the email job needs to know from a failed send, from a real server: refused for good
// (not retried, see mail-refusal.ts) or not.
describe('SMTP mailer, a message the server refuses', () => {
  const send = async (options: SmtpOptions, to = 'buyer@example.com') => {
    const smtp = await startSmtp(options);
    const url = options.lmtp ? `${smtp.url}/?lmtp=true` : smtp.url;
    const mailer = createMailer({ smtpUrl: url, gmail: undefined, from: 'shop@example.com', dataDir: parent, logger });
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

  it.each([
    ['its recipient does not exist (550 to RCPT TO)', { refuseRecipient: () => '550 No such user here' }, /550 No such user here/],
    ['its recipient does not exist (550 5.1.1)', { refuseRecipient: () => '550 5.1.1 User unknown' }, /5\.1\.1 User unknown/],
    ['its content (554 5.6.0 to DATA)', { refuseData: '554 5.6.0 Message content rejected' }, /Message content rejected/],
    ['its recipient, by an LMTP server (5.1.1 to DATA)', { lmtp: true, refuseData: '550 5.1.1 User unknown' }, /User unknown/],
  ])('for good when the server refuses %s', async (_case, options: SmtpOptions, reply) => {
    const error = await send(options);
    expect(error).toBeInstanceOf(MailRejectedError);
    expect(error?.message).toMatch(reply);
  });

  it.each([
    ['4xx to its recipient', { refuseRecipient: () => '450 Mailbox busy, try later' }, /450/],
    ['relaying until we sign in (554 5.7.1 to RCPT TO)', { refuseRecipient: () => '554 5.7.1 Relay access denied' }, /Relay access denied/],
    ['a full mailbox (552 5.2.2 to RCPT TO)', { refuseRecipient: () => '552 5.2.2 Mailbox full' }, /Mailbox full/],
    ["a day's sending quota (550 5.4.5 to DATA)", { refuseData: '550 5.4.5 Daily user sending quota exceeded' }, /quota exceeded/],
    ['our sender address (550 to MAIL FROM)', { refuseSender: '550 Sender not allowed' }, /550 Sender not allowed/],
    ['its recipient for now, by an LMTP server (452 to DATA)', { lmtp: true, refuseData: '452 4.2.2 Mailbox full, try later' }, /Mailbox full/],
  ])('not for good when the server refuses %s (a retry may pass)', async (_case, options: SmtpOptions, reply) => {
    const error = await send(options);
    expect(error?.message).toMatch(reply);
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

describe('SMTP mailer, a server that never finishes its reply', () => {
  it('fails the send once it has taken longer than the bound (its claim is released and the job retries), instead of never settling', async () => {
    const smtp = await startTricklingSmtp();
    const mailer = createMailer({ smtpUrl: smtp.url, gmail: undefined, from: 'shop@example.com', dataDir: parent, logger, sendTimeoutMs: 1_000 });
    try {
      const outcome = await settledWithin(
        mailer.send(message('trickled')).then(
          () => 'sent',
          (error: unknown) => error as Error,
        ),
        // Past every timeout of the transport (the socket's 15 s of idleness the longest).
        20_000,
      );
      expect(outcome).toBeInstanceOf(Error);
      expect(outcome).not.toBeInstanceOf(MailRejectedError);
    } finally {
      mailer.close();
      await smtp.stop();
    }
  });
});
