import { createHash } from 'node:crypto';

/**
 * A message as an .eml file (RFC 5322 + MIME multipart/alternative, quoted-printable UTF-8
 * parts), for the file mail transport. Composing it directly costs a fraction of what a full
 * mail library spends per message (streams, address parsing, random boundaries), and in the
 * embedded default that work runs on the API's event loop. Only plain ASCII addresses take this
 * path (`composableAsEml`); anything else goes through the library.
 */
export interface EmlMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
}

const ASCII_PRINTABLE = /^[\x20-\x7e]*$/;
const ADDRESS = /^[^\s<>(),;:"@\\]+@[^\s<>(),;:"@\\]+$/;
// A display name of plain words needs no quoting; `Name <address>` or a bare address.
const MAILBOX = /^(?:[A-Za-z0-9 .'_-]*<[^\s<>(),;:"@\\]+@[^\s<>(),;:"@\\]+>|[^\s<>(),;:"@\\]+@[^\s<>(),;:"@\\]+)$/;

export const composableAsEml = (message: Pick<EmlMessage, 'from' | 'to' | 'messageId'>): boolean =>
  [message.from, message.to, message.messageId].every((value) => ASCII_PRINTABLE.test(value)) && MAILBOX.test(message.from) && ADDRESS.test(message.to);

/** RFC 2047 encoded-words for a header value that is not plain ASCII, each within a folded line. */
function headerText(value: string): string {
  if (ASCII_PRINTABLE.test(value)) return value;
  const words: string[] = [];
  let chunk = '';
  for (const char of value) {
    if (Buffer.byteLength(chunk + char) > 39) {
      words.push(chunk);
      chunk = '';
    }
    chunk += char;
  }
  words.push(chunk);
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`).join('\n ');
}

const MAX_LINE = 76;

/** Quoted-printable (RFC 2045 §6.7) of UTF-8 text, lines ending in `\n`, soft breaks at 76 characters. */
export function quotedPrintable(text: string): string {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const bytes = Buffer.from(line, 'utf8');
    let current = '';
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      const last = i === bytes.length - 1;
      const literal = (byte >= 33 && byte <= 126 && byte !== 61) || ((byte === 32 || byte === 9) && !last);
      const token = literal ? String.fromCharCode(byte) : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      if (current.length + token.length > MAX_LINE - 1) {
        // Break after a space when there is one, so words and amounts stay whole for a reader.
        const space = current.lastIndexOf(' ') + 1;
        const cut = space > 0 ? space : current.length;
        out.push(`${current.slice(0, cut)}=`);
        current = current.slice(cut);
      }
      current += token;
    }
    out.push(current);
  }
  return out.join('\n');
}

export function composeEml(message: EmlMessage, date = new Date()): Buffer {
  const boundary = `--_ops_${createHash('sha1').update(message.messageId).digest('hex').slice(0, 24)}`;
  const part = (type: string, body: string) =>
    [`--${boundary}`, `Content-Type: ${type}; charset=utf-8`, 'Content-Transfer-Encoding: quoted-printable', '', quotedPrintable(body)].join('\n');
  return Buffer.from(
    [
      `From: ${message.from}`,
      `To: ${message.to}`,
      `Subject: ${headerText(message.subject)}`,
      `Message-ID: ${message.messageId}`,
      `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative;',
      ` boundary="${boundary}"`,
      '',
      part('text/plain', message.text),
      part('text/html', message.html),
      `--${boundary}--`,
      '',
    ].join('\n'),
    'utf8',
  );
}
