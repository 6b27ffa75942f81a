import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface TestSmtp {
  port: number;
  url: string;
  messages: ParsedMail[];
  /** Stops accepting connections (an SMTP outage). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  waitFor(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
}

export interface SmtpOptions {
  /** Answers RCPT TO for matching addresses with this reply code (5xx: refused for good, 4xx: try later). */
  refuseRecipient?: (address: string) => 450 | 550 | undefined;
  /** Answers MAIL FROM with this reply code. */
  refuseSender?: 550;
}

/** A real SMTP server in the test process; every accepted message is parsed and kept. */
export async function startSmtp(options: SmtpOptions = {}): Promise<TestSmtp> {
  const messages: ParsedMail[] = [];
  let server: SMTPServer | undefined;
  let port = 0;

  const listen = async () => {
    if (server) return;
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      // Stopping must be quick: an outage starts at once, lingering sessions are cut.
      closeTimeout: 100,
      onRcptTo(address, _session, callback) {
        const code = options.refuseRecipient?.(address.address);
        callback(code ? Object.assign(new Error(code >= 500 ? 'No such user here' : 'Mailbox busy, try later'), { responseCode: code }) : undefined);
      },
      onMailFrom(_address, _session, callback) {
        callback(options.refuseSender ? Object.assign(new Error('Sender not allowed'), { responseCode: options.refuseSender }) : undefined);
      },
      onData(stream, _session, callback) {
        simpleParser(stream).then(
          (mail) => {
            messages.push(mail);
            callback();
          },
          (error: Error) => callback(error),
        );
      },
    });
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
  };
  await listen();

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    stop: () =>
      new Promise<void>((resolve) => {
        const running = server;
        server = undefined;
        if (running) running.close(() => resolve());
        else resolve();
      }),
    start: listen,
    async waitFor(count, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return messages;
    },
  };
}
