import { simpleParser } from 'mailparser';
import MailComposer, { type MailComposerOptions } from 'nodemailer/lib/mail-composer';
import { describe, expect, it } from 'vitest';
import { composeMail } from './mail-compose.js';

// Fixed where Nodemailer would pick at random or read the clock, so both paths can be compared byte for byte.
const fixed = { date: new Date('2026-12-05T10:00:00Z'), baseBoundary: 'c0ffee0123456789' };

const base = {
  from: 'Order Service <no-reply@order-service.local>',
  to: 'buyer@example.com',
  subject: 'Order 0b7c4a52-6d1e-4a8e-9f10-2b0c1d7e8a11 confirmed',
  messageId: '<order_confirmation.0b7c4a52-6d1e-4a8e-9f10-2b0c1d7e8a11@order-service.local>',
  text: 'Hello Ann,\n\n  2 x Widget (W-1) @ $10.00 = $20.00\n\nTotal: $20.00\n',
  html: '<!doctype html><html><body><p>Hello Ann,</p><table><tr><td>Widget</td><td align="right">$20.00</td></tr></table></body></html>',
};

const cases: Record<string, MailComposerOptions & { newline?: 'unix' }> = {
  'plain ASCII text and HTML': base,
  'non-ASCII names, subject and bodies': {
    ...base,
    from: 'Zoë’s Shop <no-reply@order-service.local>',
    to: 'Ågren Åsa <asa@example.com>',
    subject: 'Bestellung bestätigt — 注文 😀',
    text: 'Grüße, Zoë — 日本語のテキスト 😀\n',
    html: '<p>Grüße, Zoë — 日本語 😀</p>',
  },
  'lines past 998 characters and CRLF in the text': {
    ...base,
    text: `${'x'.repeat(1200)}\r\nsecond line\rthird\n`,
    html: `<p>${'word '.repeat(400)}</p>`,
  },
  'a large body (several stream chunks in build())': {
    ...base,
    text: 'Zeile mit Umlauten äöü und = Zeichen\n'.repeat(3000),
    html: `<table>${'<tr><td>Ärger = 1 € </td></tr>\n'.repeat(3000)}</table>`,
  },
  'a long subject folded over lines': { ...base, subject: `Order ${'a-long-word '.repeat(20)}confirmed` },
  'text only': { ...base, html: undefined },
  'text only, with no line break at its end': { ...base, html: undefined, text: 'Thank you' },
  'Unix line ends (the .eml files)': { ...base, text: 'one\r\ntwo\n', newline: 'unix' },
  'an IDN recipient domain': { ...base, to: 'käufer@bücher.example' },
};

describe('composeMail', () => {
  it.each(Object.entries(cases))('writes the same bytes as Nodemailer build(): %s', async (_, mail) => {
    const built = await new MailComposer({ ...mail, ...fixed }).compile().build();
    const composed = await composeMail({ ...mail, ...fixed });
    expect(composed.raw.toString('utf8')).toBe(built.toString('utf8'));
  });

  it('gives the SMTP envelope: the bare addresses of From and To', async () => {
    const { envelope } = await composeMail({ ...cases['non-ASCII names, subject and bodies']!, ...fixed });
    expect(envelope).toEqual({ from: 'no-reply@order-service.local', to: ['asa@example.com'] });
  });

  it('writes a message a mail parser reads back whole', async () => {
    const mail = cases['non-ASCII names, subject and bodies']!;
    const parsed = await simpleParser((await composeMail(mail)).raw);
    expect(parsed.subject).toBe(mail.subject);
    expect(parsed.from?.value).toEqual([{ name: 'Zoë’s Shop', address: 'no-reply@order-service.local' }]);
    expect(parsed.messageId).toBe(mail.messageId);
    expect(parsed.text).toBe(mail.text);
    expect(parsed.html).toBe(mail.html);
  });

  it('gives each message a boundary of its own, valid for MIME (RFC 2046: at most 70 of its characters)', async () => {
    const boundaries = await Promise.all(
      [1, 2, 3].map(async () => /boundary="([^"]+)"/.exec((await composeMail(base)).raw.toString('utf8'))?.[1]),
    );
    expect(new Set(boundaries).size).toBe(3);
    for (const boundary of boundaries) expect(boundary).toMatch(/^[\w'()+,\-./:=? ]{1,69}[\w'()+,\-./:=?]$/);
  });

  it('leaves anything but text in memory to build(): an attachment comes out whole', async () => {
    const mail = { ...base, ...fixed, attachments: [{ filename: 'receipt.txt', content: Buffer.from('paid in full') }] };
    const composed = await composeMail(mail);
    expect(composed.raw.toString('utf8')).toBe((await new MailComposer(mail).compile().build()).toString('utf8'));
    const parsed = await simpleParser(composed.raw);
    expect(parsed.attachments.map((a) => [a.filename, a.content.toString()])).toEqual([['receipt.txt', 'paid in full']]);
  });
});
