import { describe, expect, it } from 'vitest';
import { refuseAddress, refuseLiteralHost } from './webhook-url.js';

/** IPv6 forms that carry an IPv4 address: none may lead a delivery to a non-public one. */
describe('IPv6 addresses that embed an IPv4 address', () => {
  it.each([
    // IPv4-compatible (::/96, deprecated): the form `new URL` writes for [::127.0.0.1].
    ['::7f00:1', /loopback/],
    ['::127.0.0.1', /loopback/],
    ['::a00:1', /private/],
    ['::a9fe:a9fe', /linkLocal/],
    ['::6440:1', /carrierGradeNat/],
    // IPv4-mapped.
    ['::ffff:127.0.0.1', /loopback/],
    ['::ffff:7f00:1', /loopback/],
    ['0:0:0:0:0:ffff:a00:1', /private/],
    // IPv4-translated (RFC 6145), NAT64 (RFC 6052 well-known and RFC 8215 local-use prefixes),
    // 6to4 and Teredo: refused whatever they embed, a translator or relay may reach internal hosts.
    ['::ffff:0:7f00:1', /rfc6145/],
    ['64:ff9b::7f00:1', /rfc6052/],
    ['64:ff9b::127.0.0.1', /rfc6052/],
    ['64:ff9b:1::a00:1', /rfc6052/],
    ['2002:7f00:1::', /6to4/],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', /teredo/],
  ])('refuses %s', (address, range) => {
    expect(refuseAddress(address)).toMatch(range);
  });

  it('refuses an IPv4-compatible address even when the IPv4 address it embeds is public', () => {
    expect(refuseAddress('::808:808')).toMatch(/ipv4Compatible/);
  });

  it('accepts an IPv4-mapped public address, which is that IPv4 address', () => {
    expect(refuseAddress('::ffff:8.8.8.8')).toBeUndefined();
  });

  it('refuses the URL hosts that spell them, as written or as URL parsing rewrites them', () => {
    for (const host of ['[::127.0.0.1]', '[::7f00:1]', '[::ffff:127.0.0.1]', '[0::ffff:7f00:1]', '[64:ff9b::127.0.0.1]']) {
      expect(refuseLiteralHost(new URL(`http://${host}:8080/hook`))).toBeDefined();
    }
  });
});
