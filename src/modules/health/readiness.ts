/** A configured dependency the process needs in order to do its work. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface Readiness {
  ok: boolean;
  /** Every check by name: `ok` or `unavailable`. */
  checks: Record<string, 'ok' | 'unavailable'>;
  failing: string[];
}

const CHECK_TIMEOUT_MS = 1500;

function withTimeout(check: ReadinessCheck): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS);
    check.check().then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/** Runs every check at once, each bounded in time; the API's and the worker's `/health/ready` both use it. */
export async function checkReadiness(checks: readonly ReadinessCheck[]): Promise<Readiness> {
  const results = await Promise.all(checks.map(async (check) => ({ name: check.name, ok: await withTimeout(check).then(() => true, () => false) })));
  return {
    ok: results.every((result) => result.ok),
    checks: Object.fromEntries(results.map((result) => [result.name, result.ok ? 'ok' : 'unavailable'])),
    failing: results.filter((result) => !result.ok).map((result) => result.name),
  };
}

/** The 503 body both `/health/ready` endpoints send. */
export function notReadyProblem(failing: readonly string[]): { status: 503; code: 'NOT_READY'; detail: string; errors: { dependency: string; message: string }[] } {
  return {
    status: 503,
    code: 'NOT_READY',
    detail: `Not ready: ${failing.join(', ')} unavailable`,
    errors: failing.map((name) => ({ dependency: name, message: 'did not answer' })),
  };
}
