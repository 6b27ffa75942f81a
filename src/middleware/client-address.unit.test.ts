import { describe, expect, it } from 'vitest';
import { clientKey } from './client-address.js';

describe('the client a per-address limit counts', () => {
  it('is an IPv6 address’s /64, whatever the address within it', () => {
    expect(clientKey('2001:db8:7:1::1')).toBe('2001:db8:7:1::/64');
    expect(clientKey('2001:0db8:0007:0001:ffff:ffff:ffff:ffff')).toBe('2001:db8:7:1::/64');
    expect(clientKey('2001:db8:7:2::1')).toBe('2001:db8:7:2::/64');
    expect(clientKey('fe80::1%eth0')).toBe('fe80::/64');
  });

  it('is an IPv4 address itself, also when an IPv6 socket shows it mapped', () => {
    expect(clientKey('203.0.113.8')).toBe('203.0.113.8');
    expect(clientKey('::ffff:203.0.113.8')).toBe('203.0.113.8');
  });

  it('keeps anything that is not an address as it is, and names a missing one', () => {
    expect(clientKey('unix-socket')).toBe('unix-socket');
    expect(clientKey(undefined)).toBe('unknown');
  });
});
