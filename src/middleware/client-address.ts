import type { Request } from 'express';
import ipaddr from 'ipaddr.js';

/** The bits of an IPv6 address that name one client: a host or a home network is given a whole /64. */
const IPV6_CLIENT_PREFIX_BITS = 64;

/**
 * The client a per-address limit counts. An IPv6 client is counted by its /64: one host commonly
 * holds all 2^64 addresses of its prefix, and counted by address it could take a fresh one for
 * every attempt. An IPv4 client is counted by its address, also when an IPv6 socket shows it as
 * an IPv4-mapped address (`::ffff:203.0.113.8`), so it is one client however the server listens.
 */
export function clientKey(address: string | undefined): string {
  if (address === undefined || !ipaddr.isValid(address)) return address ?? 'unknown';
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const ipv6 = parsed as ipaddr.IPv6;
  if (ipv6.isIPv4MappedAddress()) return ipv6.toIPv4Address().toString();
  return `${ipaddr.IPv6.networkAddressFromCIDR(`${ipv6.toNormalizedString()}/${IPV6_CLIENT_PREFIX_BITS}`).toString()}/${IPV6_CLIENT_PREFIX_BITS}`;
}

/** The request's client (`req.ip`, which honours TRUST_PROXY) as per-address limits count it. */
export const clientKeyOf = (req: Pick<Request, 'ip'>): string => clientKey(req.ip);
