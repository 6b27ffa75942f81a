import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { ServiceUnavailableError } from '../../shared/errors.js';
import type { Logger } from '../logger.js';
import { DESCRIBE_FAILURE_SOURCE } from './pglite-failure.js';

/**
 * The thread's whole program (CommonJS, run with `eval`, so it is the same in `dist/`, in a
 * bundle and under the test runner): open PGlite, then run each message of protocol bytes, in
 * the order they came, and post back the backend's bytes. Everything else (statements,
 * parameters, rows, errors, notifications) is done by the main thread, in `wrapPGliteThread` (./pglite-thread-database.ts).
 */
const THREAD_PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.entry);
${DESCRIBE_FAILURE_SOURCE}
let done = Promise.resolve();
const joined = (chunks) => {
  const all = new Uint8Array(chunks.reduce((size, chunk) => size + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
};
PGlite.create(workerData.pgdata, { startParams: workerData.startParams }).then(
  (pglite) => {
    parentPort.on('message', (request) => {
      done = done.then(async () => {
        if (request.close) {
          await pglite.close();
          parentPort.postMessage({ closed: true });
          parentPort.close();
          return;
        }
        try {
          // The stream form: the plain one also parses every reply here, into a list PGlite
          // empties only in its own execProtocol (~4 KB kept per statement, and CPU spent twice).
          const chunks = [];
          await pglite.execProtocolRawStream(request.message, {
            syncToFs: request.syncToFs,
            onRawData: (chunk) => chunks.push(chunk.slice()),
          });
          const reply = chunks.length === 1 ? chunks[0] : joined(chunks);
          parentPort.postMessage({ id: request.id, reply }, [reply.buffer]);
        } catch (error) {
          parentPort.postMessage({ id: request.id, failure: describeFailure(error) });
          // PostgreSQL's own errors come back as bytes; a throw is PGlite failing. After a
          // WebAssembly trap (an abort, an out-of-bounds access) its memory cannot be trusted:
          // end the thread, and the main thread starts another, which opens the files again.
          if (error instanceof WebAssembly.RuntimeError) process.exit(1);
        }
      });
    });
    parentPort.postMessage({ ready: true });
  },
  (error) => parentPort.postMessage({ openFailure: describeFailure(error) }),
);`;

/**
 * The thread's young generation, far below V8's default: what it allocates lives for one request
 * (the protocol bytes in and out). A driver of 5,000 statements, three runs each: 281–296 MiB
 * resident after it with 4, 299–304 with V8's default, 267–272 with PGlite on the main thread.
 */
const YOUNG_GENERATION_MIB = 4;

/**
 * The most the thread's JavaScript heap may hold (it holds ~10 MiB: replies are bytes outside it).
 * PGlite in a broken state can grow an array without end; past this limit Node ends the thread
 * (ERR_WORKER_OUT_OF_MEMORY), which is replaced, instead of V8 ending the whole process.
 */
const OLD_GENERATION_MIB = 256;

type Reply = { ready: true } | { closed: true } | { openFailure: string } | { id: number; reply: Uint8Array } | { id: number; failure: string };

/** PGlite running on a worker thread of its own: protocol bytes in, the backend's bytes out. */
export interface PGliteThread {
  /**
   * Runs `message`. A thread that died is replaced first (a new database session), unless
   * `session` is given: then the message belongs to that session (an open transaction), and if
   * the thread running it died, the message is refused with `SessionLostError`.
   */
  exec(message: Uint8Array, syncToFs: boolean, session?: number): Promise<Uint8Array>;
  /** The database session now running: 0 on the first thread, one more for each replacement. */
  readonly session: number;
  /** Sets each replacement's session up before anything else runs on it (`exec` goes straight to it). */
  whenReplaced(setUp: (exec: (message: Uint8Array) => Promise<Uint8Array>) => Promise<void>): void;
  close(): Promise<void>;
}

/**
 * The embedded database's thread could not run a statement (it stopped, or could not be started
 * again): to a client a 503, as a database server that is down; `cause` says why.
 */
export class DatabaseThreadError extends ServiceUnavailableError {
  constructor(cause: unknown) {
    super('database');
    this.cause = cause;
  }
}

/** A statement of a transaction whose thread died: the transaction is gone, nothing of it committed. */
export class SessionLostError extends DatabaseThreadError {}

export interface ThreadOptions {
  /** Hears of the thread stopping and of its replacement. */
  logger?: Pick<Logger, 'error' | 'warn'>;
  /** The thread's JavaScript heap limit (OLD_GENERATION_MIB). */
  heapLimitMib?: number;
}

/** How soon after a failed replacement another is tried: until then statements fail at once. */
export const RESTART_RETRY_MS = 1000;

/**
 * Starts PGlite on `pgdata` (an existing cluster) on a worker thread, and starts it again when it
 * dies (PostgreSQL in WebAssembly aborts on a fatal error, as a server's backend process would
 * exit): the next statement opens the cluster on a new thread, which recovers it from its WAL as
 * after a kill, and goes on. What was in flight on the dead thread fails; so does the rest of a
 * transaction that was open on it. The thread keeps the process alive only while a request is in
 * flight, so a command that is done exits as before.
 */
export async function startPGliteThread(pgdata: string, startParams: readonly string[], options: ThreadOptions = {}): Promise<PGliteThread> {
  const { logger } = options;
  const limits = { maxYoungGenerationSizeMb: YOUNG_GENERATION_MIB, maxOldGenerationSizeMb: options.heapLimitMib ?? OLD_GENERATION_MIB };
  const onDeath = (reason: Error) => logger?.error("the embedded database's thread stopped; the next statement starts it again", { reason: reason.message });
  let current = await spawnThread(pgdata, startParams, limits, onDeath);
  let session = 0;
  let closed = false;
  let replacing: Promise<void> | undefined;
  let failed: { at: number; error: Error } | undefined;
  let setUp: Parameters<PGliteThread['whenReplaced']>[0] = () => Promise.resolve();

  function replace(): Promise<void> {
    if (failed && Date.now() - failed.at < RESTART_RETRY_MS) return Promise.reject(failed.error);
    if (replacing) return replacing;
    const attempt = (async () => {
      try {
        // PGlite would make a new, empty cluster in a folder without one.
        if (!existsSync(path.join(pgdata, 'PG_VERSION'))) throw new Error(`no database cluster in ${pgdata} any more`);
        const next = await spawnThread(pgdata, startParams, limits, onDeath);
        try {
          await setUp((message) => next.exec(message, true));
        } catch (error) {
          await next.close();
          throw error;
        }
        current = next;
        session += 1;
        failed = undefined;
        logger?.warn("the embedded database's thread was started again", { session });
      } catch (error) {
        const cause = error instanceof Error ? error.message : String(error);
        failed = { at: Date.now(), error: new Error(`the embedded database's thread stopped and could not be started again: ${cause}`, { cause: error }) };
        logger?.error("the embedded database's thread could not be started again", { reason: cause, retryInMs: RESTART_RETRY_MS });
        throw failed.error;
      }
    })();
    // Cleared once settled (not in the attempt itself: one that fails before its first await
    // would settle before it was even stored).
    replacing = attempt.finally(() => (replacing = undefined));
    return replacing;
  }

  return {
    get session() {
      return session;
    },
    whenReplaced(next) {
      setUp = next;
    },
    async exec(message, syncToFs, inSession) {
      if (closed) throw new Error('PGlite is closed');
      if (inSession !== undefined) {
        if (inSession !== session || current.stopped()) throw new SessionLostError(new Error("the embedded database's thread stopped during this transaction; nothing of it was committed"));
        return current.exec(message, syncToFs);
      }
      while (replacing || current.stopped()) {
        if (closed) throw new Error('PGlite is closed');
        await (replacing ?? replace());
      }
      return current.exec(message, syncToFs);
    },
    async close() {
      closed = true;
      await replacing?.catch(() => undefined);
      await current.close();
    },
  };
}

interface ThreadLife extends Pick<PGliteThread, 'close'> {
  exec(message: Uint8Array, syncToFs: boolean): Promise<Uint8Array>;
  /** Why the thread stopped, once it has. */
  stopped(): Error | undefined;
}

/** One thread, from its start to its end. `onDeath`: it stopped without being closed. */
async function spawnThread(pgdata: string, startParams: readonly string[], resourceLimits: ResourceLimits, onDeath: (reason: Error) => void): Promise<ThreadLife> {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const worker = new Worker(THREAD_PROGRAM, { eval: true, workerData: { entry, pgdata, startParams }, resourceLimits });
  const pending = new Map<number, { resolve: (reply: Uint8Array) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let stopped: Error | undefined;
  let onClosed: (() => void) | undefined;

  let opening = true;
  const settleAll = (error: Error) => {
    if (!stopped && !opening) onDeath(error);
    stopped ??= error;
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
    worker.unref();
  };

  const opened = new Promise<void>((resolve, reject) => {
    worker.on('message', (reply: Reply) => {
      if ('ready' in reply) resolve();
      else if ('closed' in reply) onClosed?.();
      else if ('openFailure' in reply) reject(new Error(reply.openFailure));
      else {
        const waiting = pending.get(reply.id);
        pending.delete(reply.id);
        if (pending.size === 0) worker.unref();
        if ('reply' in reply) waiting?.resolve(reply.reply);
        else waiting?.reject(new Error(reply.failure));
      }
    });
    worker.on('error', (error) => {
      reject(error);
      settleAll(new Error(`the embedded database's thread failed: ${error.message}`, { cause: error }));
    });
    worker.on('exit', () => {
      reject(new Error("the embedded database's thread exited while opening"));
      settleAll(new Error("the embedded database's thread stopped"));
    });
  });
  try {
    await opened;
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  opening = false;
  worker.unref();

  return {
    stopped: () => stopped,
    exec(message, syncToFs) {
      if (stopped) return Promise.reject(stopped);
      const id = nextId++;
      // A copy the thread can own: `message` may be a slice of Node's shared Buffer pool.
      const own = new Uint8Array(message);
      if (pending.size === 0) worker.ref();
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, message: own, syncToFs }, [own.buffer]);
      });
    },
    async close() {
      if (stopped) return;
      stopped = new Error('PGlite is closed');
      worker.ref();
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      await new Promise<void>((resolve) => {
        onClosed = resolve;
        worker.postMessage({ close: true });
        // A thread that died meanwhile answers nothing: its exit ends the wait too.
        void exited.then(resolve);
      });
      await worker.terminate();
    },
  };
}
