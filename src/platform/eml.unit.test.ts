import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { composableAsEml, composeEml, quotedPrintable } from './eml.js';

describe('.eml files composed for the file mail transport', () => {
  const message = {
    from: 'Order Service <no-reply@order-service.local>',
    to: 'zoe@example.com',
    subject: `Order 8d5e… confirmed — Zoë ${'é'.repeat(40)}`,
    text: `Hello Zoë,\n\nTotal: €75.00 = 3 x $25.00   \n\tTabbed line\n${'x'.repeat(200)}\n${'word $75.00 '.repeat(20)}`,
    html: `<!doctype html><html><body><p style="font-family: sans-serif">Hello Zoë, 2+2=4</p>${'<td align="right">$1.00</td>'.repeat(20)}</body></html>`,
    messageId: '<order_confirmation.8d5e@order-service.local>',
  };

  it('reads back, through a MIME parser, as the same sender, recipient, subject, id, text and HTML', async () => {
    const parsed = await simpleParser(composeEml(message, new Date('2026-12-02T09:00:00Z')));
    expect(parsed.from?.value).toEqual([{ address: 'no-reply@order-service.local', name: 'Order Service' }]);
    expect(parsed.to).toMatchObject({ value: [{ address: 'zoe@example.com', name: '' }] });
    expect(parsed.subject).toBe(message.subject);
    expect(parsed.messageId).toBe(message.messageId);
    expect(parsed.date?.toISOString()).toBe('2026-12-02T09:00:00.000Z');
    expect(parsed.text).toBe(message.text);
    expect(parsed.html).toBe(message.html);
  });

  it('keeps every line within 76 characters and amounts readable in the file', () => {
    const eml = composeEml(message).toString('utf8');
    expect(eml.split('\n').every((line) => line.length <= 76)).toBe(true);
    expect(eml).toContain('$25.00');
    // Soft breaks fall between words: no amount is cut in two.
    expect(eml.match(/\$75\.00/g)?.length).toBe(20);
    expect(eml).toMatch(/Content-Type: text\/html/);
  });

  it('encodes "=", bytes beyond ASCII and whitespace at the end of a line', () => {
    expect(quotedPrintable('a=b é \nnext\t')).toBe('a=3Db =C3=A9=20\nnext=09');
  });

  it('leaves addresses that need quoting or are not ASCII to the mail library', () => {
    expect(composableAsEml(message)).toBe(true);
    expect(composableAsEml({ ...message, from: 'Shop, Inc. <shop@example.com>' })).toBe(false);
    expect(composableAsEml({ ...message, from: 'Zoë <zoe@example.com>' })).toBe(false);
    expect(composableAsEml({ ...message, to: 'zoë@example.com' })).toBe(false);
    expect(composableAsEml({ ...message, to: 'a@example.com, b@example.com' })).toBe(false);
  });
});
