import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { resolveHost } from './host-addresses.js';

/** Why a URL or address may not receive webhooks, or undefined when it may. */
export type Refusal = string | undefined;

/**
 * Only public unicast addresses receive webhooks: loopback, private, link-local (cloud
 * metadata at 169.254.169.254), CGNAT, multicast, unique-local, reserved and the IPv6 forms
 * that embed such an IPv4 address are refused. An IPv4-mapped address is its IPv4 address. The
 * other forms that embed one are refused whatever it is: IPv4-compatible (::a.b.c.d, deprecated
 * and never routed, named after the IPv4 address's range when that is not public), and, by
 * ipaddr.js's ranges, IPv4-translated, NAT64, 6to4 and Teredo, whose translators or relays may
 * reach internal hosts.
 */
export function refuseAddress(address: string): Refusal {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  const parsed = ipaddr.parse(address);
  const range = parsed.kind() === 'ipv6' ? ipv6Range(parsed as ipaddr.IPv6) : parsed.range();
  return range === 'unicast' ? undefined : `${address} is a ${range} address`;
}

function ipv6Range(address: ipaddr.IPv6): string {
  if (address.isIPv4MappedAddress()) return address.toIPv4Address().range();
  const range = address.range();
  // ::/96 but :: and ::1, which ipaddr.js names (unspecified, loopback).
  const compatible = range === 'unicast' && address.parts.slice(0, 6).every((part) => part === 0);
  if (!compatible) return range;
  const embedded = ipaddr.fromByteArray(address.toByteArray().slice(12)).range();
  return embedded === 'unicast' ? 'ipv4Compatible' : embedded;
}

export function refuseScheme(url: URL): Refusal {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `only http and https URLs can receive webhooks, not ${url.protocol.replace(':', '')}`;
  if (url.username || url.password) return 'URLs with credentials are not accepted';
  return undefined;
}

const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** The registration check: the scheme, and every address the host resolves to now. */
export async function refuseUrl(raw: string, allowPrivate: boolean): Promise<Refusal> {
  const url = new URL(raw);
  const scheme = refuseScheme(url);
  if (scheme || allowPrivate) return scheme;
  const host = hostOf(url);
  if (isIP(host)) return refuseAddress(host);
  let addresses: LookupAddress[];
  try {
    addresses = await resolveHost(host);
  } catch {
    return `${host} does not resolve`;
  }
  for (const { address } of addresses) {
    const refusal = refuseAddress(address);
    if (refusal) return `${host} resolves to ${refusal.replace(/^\S+ is/, 'an address that is')}`;
  }
  return undefined;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for the delivery's socket: the address checked is the address connected to, so a
 * DNS answer that changed since registration (or rebinding between two lookups) cannot point a
 * delivery at an internal service.
 */
export function guardedLookup(hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
  resolveHost(hostname).then((addresses) => {
    const refused = addresses.map(({ address }) => refuseAddress(address)).find(Boolean);
    if (refused) return callback(Object.assign(new Error(`refused: ${refused}`), { code: 'WEBHOOK_URL_FORBIDDEN' }), []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    return first ? callback(null, first.address, first.family) : callback(new Error(`${hostname} does not resolve`), []);
  }, (error: NodeJS.ErrnoException) => callback(error, []));
}

/** Checks an IP-literal host, which sockets connect to without a lookup. */
export function refuseLiteralHost(url: URL): Refusal {
  const host = hostOf(url);
  return isIP(host) ? refuseAddress(host) : undefined;
}
