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
  /** Answers RCPT TO for matching addresses with this reply, e.g. `550 5.1.1 User unknown` (5xx: refused, 4xx: try later). */
  refuseRecipient?: (address: string) => string | undefined;
  /** Answers MAIL FROM with this reply. */
  refuseSender?: string;
  /** Answers the message's data with this reply (per recipient under LMTP). */
  refuseData?: string;
  /** Speak LMTP (RFC 2033) instead of SMTP. */
  lmtp?: boolean;
}

/** smtp-server sends `<responseCode> <message>`: a reply given as one line is split there. */
const refusal = (reply: string | undefined) => (reply ? Object.assign(new Error(reply.slice(4)), { responseCode: Number(reply.slice(0, 3)) }) : undefined);

/** A real SMTP server in the test process; every accepted message is parsed and kept. */
export async function startSmtp(options: SmtpOptions = {}): Promise<TestSmtp> {
  const messages: ParsedMail[] = [];
  let server: SMTPServer | undefined;
  let port = 0;

  const listen = async () => {
    if (server) return;
    server = new SMTPServer({
      authOptional: true,
      lmtp: options.lmtp ?? false,
      disabledCommands: ['STARTTLS'],
      logger: false,
      // Stopping must be quick: an outage starts at once, lingering sessions are cut.
      closeTimeout: 100,
      onRcptTo(address, _session, callback) {
        callback(refusal(options.refuseRecipient?.(address.address)));
      },
      onMailFrom(_address, _session, callback) {
        callback(refusal(options.refuseSender));
      },
      onData(stream, _session, callback) {
        simpleParser(stream).then(
          (mail) => {
            if (options.refuseData) return callback(refusal(options.refuseData));
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
