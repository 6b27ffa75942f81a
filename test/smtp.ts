import { createServer, type AddressInfo, type Socket } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface TestSmtp {
  port: number;
  url: string;
  messages: ParsedMail[];
  /** Messages taken and never answered (`silentAfterData`). */
  unanswered: ParsedMail[];
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
  /** Takes each message's data, then goes silent: no reply, the connection left open (a server hung mid-conversation). */
  silentAfterData?: boolean;
}

/** smtp-server sends `<responseCode> <message>`: a reply given as one line is split there. */
const refusal = (reply: string | undefined) => (reply ? Object.assign(new Error(reply.slice(4)), { responseCode: Number(reply.slice(0, 3)) }) : undefined);

/** A real SMTP server in the test process; every accepted message is parsed and kept. */
export async function startSmtp(options: SmtpOptions = {}): Promise<TestSmtp> {
  const messages: ParsedMail[] = [];
  const unanswered: ParsedMail[] = [];
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
            if (options.silentAfterData) return void unanswered.push(mail);
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
    unanswered,
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

/**
 * A server that takes the message, then answers its end with a reply it never finishes: a line
 * of a multi-line reply (`250-`) every 100 ms. No socket timeout notices (the socket is never
 * idle), so only a bound on the send itself ends it.
 */
export async function startTricklingSmtp(): Promise<{ url: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let inData = false;
    let buffered = '';
    socket.write('220 trickle.example ESMTP\r\n');
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      if (inData) {
        if (!buffered.includes('\r\n.\r\n')) return;
        inData = false;
        const timer = setInterval(() => socket.write('250-still thinking\r\n'), 100);
        socket.on('close', () => clearInterval(timer));
        return;
      }
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end).toUpperCase();
        buffered = buffered.slice(end + 2);
        if (line.startsWith('EHLO') || line.startsWith('HELO')) socket.write('250 trickle.example\r\n');
        else if (line.startsWith('DATA')) {
          inData = true;
          socket.write('354 go ahead\r\n');
          return;
        } else if (line.startsWith('QUIT')) socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
