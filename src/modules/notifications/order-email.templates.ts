import type { Order } from '../orders/index.js';
import type { EmailKind } from './email-deliveries.repository.js';

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

// Building an Intl.NumberFormat costs ~50 µs, and an email formats up to a dozen amounts;
// formatting with one is cheap. One per currency, made on first use.
const moneyFormats = new Map<string, { format: Intl.NumberFormat; perMajorUnit: number }>();

/** Integer minor units (`priceCents`, `totalCents`) as the currency is written: 1250 is $12.50 in USD, ¥1,250 in JPY, BHD 1.250 in BHD. */
export function formatMoney(cents: number, currency: string): string {
  let money = moneyFormats.get(currency);
  if (!money) {
    const format = new Intl.NumberFormat('en-US', { style: 'currency', currency });
    // The currency's minor unit as ISO 4217 has it (Intl's default fraction digits): 2 for USD, 0 for JPY, 3 for BHD.
    money = { format, perMajorUnit: 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2) };
    moneyFormats.set(currency, money);
  }
  return money.format.format(cents / money.perMajorUnit);
}

/** Confirmation and failure emails: the order id in the subject, every line and the total in both parts. */
export function renderOrderEmail(kind: EmailKind, order: Order, recipientName: string): RenderedEmail {
  const money = (cents: number) => formatMoney(cents, order.currency);
  const confirmed = kind === 'order_confirmation';
  const subject = confirmed ? `Order ${order.id} confirmed` : `Order ${order.id} could not be completed`;
  const intro = confirmed
    ? 'Thank you for your order. Payment was approved and your order is complete.'
    : `We could not complete your order${order.failureReason ? `: ${order.failureReason}` : '.'} You are not charged for it (any payment taken is refunded), and the items were released.`;

  const textLines = order.items.map((i) => `  ${i.quantity} x ${i.name} (${i.sku}) @ ${money(i.unitPriceCents)} = ${money(i.lineTotalCents)}`);
  const text = [`Hello ${recipientName},`, '', intro, '', `Order ${order.id}`, ...textLines, '', `Total: ${money(order.totalCents)}`, ''].join('\n');

  const rows = order.items
    .map(
      (i) =>
        `<tr><td>${escapeHtml(i.name)} <small>(${escapeHtml(i.sku)})</small></td><td align="right">${i.quantity}</td>` +
        `<td align="right">${money(i.unitPriceCents)}</td><td align="right">${money(i.lineTotalCents)}</td></tr>`,
    )
    .join('');
  const html =
    `<!doctype html><html><body style="font-family: sans-serif">` +
    `<p>Hello ${escapeHtml(recipientName)},</p><p>${escapeHtml(intro)}</p>` +
    `<h2>Order ${order.id}</h2>` +
    `<table cellpadding="4"><thead><tr><th align="left">Item</th><th>Qty</th><th>Price</th><th>Total</th></tr></thead>` +
    `<tbody>${rows}</tbody><tfoot><tr><td colspan="3" align="right"><strong>Total</strong></td>` +
    `<td align="right"><strong>${money(order.totalCents)}</strong></td></tr></tfoot></table>` +
    `</body></html>`;
  return { subject, text, html };
}
