import { describe, expect, it } from 'vitest';
import { amountOf, money, toMinorUnits } from '../../console/src/format.js';

/** The console's money is the API's integer minor units, in the deployment's ISO 4217 currency. */
describe('the console\'s money formatting', () => {
  const en = (text: string) => text.replace(/\s/g, ' ');

  it('when the currency has cents, then 1250 minor units read 12.50 and 12.50 typed is 1250', () => {
    expect(en(money(1250, 'USD'))).toContain('12.50');
    expect(toMinorUnits('12.5', 'USD')).toBe(1250);
    expect(toMinorUnits('12.505', 'USD')).toBeNull();
    expect(amountOf(1250, 'USD')).toBe('12.50');
  });

  it('when the currency has no minor unit (JPY), then 1250 minor units read ¥1,250, not ¥13, and 1250 typed is 1250', () => {
    expect(en(money(1250, 'JPY'))).toMatch(/1,250|1 250|1\.250/);
    expect(toMinorUnits('1250', 'JPY')).toBe(1250);
    expect(toMinorUnits('12.50', 'JPY')).toBeNull();
    expect(amountOf(1250, 'JPY')).toBe('1250');
  });

  it('when the currency has three minor digits (BHD), then 1250 minor units read 1.250', () => {
    expect(en(money(1250, 'BHD'))).toContain('1.250');
    expect(toMinorUnits('1.25', 'BHD')).toBe(1250);
    expect(amountOf(1250, 'BHD')).toBe('1.250');
  });
});
