/**
 * Waiting in tests: always for a condition, with a deadline, never for a fixed time. Polling
 * lives here so that test files need no timers (the lint rule against sleeps enforces that).
 */

/**
 * Resolves with the first truthy value of `check`, polled every `pollMs` until `timeoutMs`; then
 * throws naming `what`. Poll an HTTP endpoint less often than a variable: on a loaded machine the
 * polls compete with the server they wait for.
 */
export async function waitUntil<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
  pollMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** The value of `promise` if it settles within `ms`, else `undefined` (e.g. "did the process exit?"). */
export async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How many turns the event loop took while `work` ran: ~0 when something blocked this thread
 * throughout (PGlite running a statement here), many when the work ran elsewhere.
 */
export async function loopTurnsDuring(work: Promise<unknown>): Promise<number> {
  let turns = 0;
  let done = false;
  const spin = () => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  try {
    await work;
  } finally {
    done = true;
  }
  return turns;
}
