import { createHash, timingSafeEqual } from 'node:crypto';

export type MetricsDecision = 'allow' | 'unauthorized' | 'hidden';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Who may scrape `/metrics` (API and worker alike). With a token, only `Bearer <token>`; without
 * one the endpoint is open for local use, but hidden (404) in production, where it would tell
 * anyone the Node version, traffic and failure counts.
 */
export function metricsAccess(settings: { token: string | undefined; production: boolean }) {
  const expected = settings.token === undefined ? undefined : digest(settings.token);
  return (authorization: string | undefined): MetricsDecision => {
    if (!expected) return settings.production ? 'hidden' : 'allow';
    const offered = /^Bearer (\S+)$/i.exec(authorization ?? '')?.[1];
    // Comparing digests takes the same time whatever the offered token's length or content.
    return offered !== undefined && timingSafeEqual(digest(offered), expected) ? 'allow' : 'unauthorized';
  };
}
