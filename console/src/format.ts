const moneyFormats = new Map<string, Intl.NumberFormat>();

function moneyFormat(currency: string): Intl.NumberFormat {
  let format = moneyFormats.get(currency);
  if (!format) {
    format = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    moneyFormats.set(currency, format);
  }
  return format;
}

/** How many digits the currency's minor unit has: 2 for USD, 0 for JPY, 3 for BHD (ISO 4217, as Intl knows it). */
export function minorDigits(currency: string): number {
  return moneyFormat(currency).resolvedOptions().maximumFractionDigits ?? 2;
}

/** Integer minor units (the API's `priceCents`, `totalCents`) as the currency is written: 12.50 $, ¥1,250. */
export function money(cents: number, currency: string): string {
  return moneyFormat(currency).format(cents / 10 ** minorDigits(currency));
}

/** An amount as typed (`12.50`, or `1250` for JPY) to integer minor units, or null when it is not one. */
export function toMinorUnits(text: string, currency: string): number | null {
  const digits = minorDigits(currency);
  const pattern = digits === 0 ? /^\d+$/ : new RegExp(`^\\d+(\\.\\d{1,${digits}})?$`);
  if (!pattern.test(text.trim())) return null;
  return Math.round(Number(text) * 10 ** digits);
}

/** Minor units as an amount to edit: `12.50`, `1250` for JPY. */
export const amountOf = (cents: number, currency: string) => (cents / 10 ** minorDigits(currency)).toFixed(minorDigits(currency));

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const time = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

export const when = (iso: string) => dateTime.format(new Date(iso));
export const clock = (iso: string) => time.format(new Date(iso));

export function seconds(value: number | null): string {
  if (value === null) return '—';
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(1)} s`;
  return `${Math.round(value / 60)} min`;
}

export const shortId = (id: string) => id.slice(0, 8);

const shortDateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'short' });

const shortTime = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

/** For lists: the time alone for today (without seconds where space is short), a short date and time before that. */
export function recent(iso: string, options: { seconds: boolean } = { seconds: true }): string {
  const date = new Date(iso);
  if (date.toDateString() !== new Date().toDateString()) return shortDateTime.format(date);
  return (options.seconds ? time : shortTime).format(date);
}
