import dns, { type LookupAddress } from 'node:dns';

/** Per query and server; c-ares asks each server up to `TRIES` times. Well inside an attempt's 10 s. */
const QUERY_TIMEOUT_MS = 2000;
const TRIES = 2;

/** DNS answered that the name has no such records: not the same as DNS not answering. */
const NOT_IN_DNS = new Set(['ENOTFOUND', 'ENODATA']);

const codeOf = (reason: unknown) => (reason as { code?: unknown } | null)?.code;

/**
 * A webhook host's addresses (IPv4 first), asked of the DNS servers with c-ares, which waits on
 * its sockets in the event loop. `dns.lookup` (getaddrinfo) holds one of libuv's four threads for
 * as long as DNS takes to answer, the threads argon2 password hashing and file I/O share: a dead
 * DNS server, or a slow one for one endpoint's domain, slowed logins and the other endpoints
 * down. Each query gives up after a bound, without holding a thread.
 *
 * A name DNS says does not exist is looked up once more with `dns.lookup`, which then answers
 * at once, so names in /etc/hosts (and other nsswitch sources) still resolve. The servers are the
 * process's (`dns.getServers()`: resolv.conf, or what `dns.setServers` set).
 */
export async function resolveHost(host: string): Promise<LookupAddress[]> {
  const resolver = new dns.promises.Resolver({ timeout: QUERY_TIMEOUT_MS, tries: TRIES });
  // Read from the module each time: `dns.setServers` rebinds it (a named import keeps the first servers).
  resolver.setServers(dns.getServers());
  const answers = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const addresses = answers.flatMap((answer, index) => (answer.status === 'fulfilled' ? answer.value.map((address) => ({ address, family: index === 0 ? 4 : 6 })) : []));
  if (addresses.length > 0) return addresses;
  const unanswered = answers.find((answer): answer is PromiseRejectedResult => answer.status === 'rejected' && !NOT_IN_DNS.has(codeOf(answer.reason) as string));
  if (unanswered) throw unanswered.reason;
  return new Promise((resolve, reject) => dns.lookup(host, { all: true }, (error, found) => (error ? reject(error) : resolve(found))));
}
