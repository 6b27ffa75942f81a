import { isIP, isIPv4 } from 'node:net';

/** The subnet names Express's `trust proxy` (proxy-addr) knows. */
const NAMED_SUBNETS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** An IPv4 netmask with its ones first (255.255.0.0), as proxy-addr accepts after a `/`. */
function isIPv4Netmask(mask: string): boolean {
  if (!isIPv4(mask)) return false;
  const bits = mask
    .split('.')
    .map((octet) => Number(octet).toString(2).padStart(8, '0'))
    .join('');
  return /^1*0*$/.test(bits);
}

/** `address`, `address/prefix` or (IPv4) `address/netmask`, or one of the named subnets. */
function isTrustedProxyEntry(entry: string): boolean {
  if (NAMED_SUBNETS.has(entry)) return true;
  const [address = '', range, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (range === undefined) return true;
  if (/^\d{1,3}$/.test(range)) return Number(range) <= (family === 4 ? 32 : 128);
  return family === 4 && isIPv4Netmask(range);
}

/**
 * Whether Express can compile this `trust proxy` list (comma-separated). Express only compiles it
 * when the app is built, long after start-up began, and then fails with a stack trace that does
 * not name the variable; checking it with the rest of the configuration keeps it one clear line.
 */
export function isTrustedProxyList(value: string): boolean {
  return value.split(',').every((entry) => isTrustedProxyEntry(entry.trim()));
}
