const moneyFormats = new Map<string, Intl.NumberFormat>();

export function money(cents: number, currency: string): string {
  let format = moneyFormats.get(currency);
  if (!format) {
    format = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    moneyFormats.set(currency, format);
  }
  return format.format(cents / 100);
}

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
