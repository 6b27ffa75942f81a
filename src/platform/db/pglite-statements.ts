import { parse, protocol, type PGlite } from '@electric-sql/pglite';
import type { QueryResult } from './database.js';

const { serialize } = protocol;

type BackendMessages = Awaited<ReturnType<PGlite['execProtocol']>>['messages'];

/**
 * A PGlite session as the named statements use it, in this thread (`sessionOf`) or on a thread of
 * its own (./pglite-thread.ts): protocol messages in, the backend's messages out.
 */
export interface ProtocolSession {
  /** Runs messages ending in Sync; rejects with the backend's error, if it sent one. */
  exec(message: Uint8Array, options: { syncToFs: boolean }): Promise<BackendMessages>;
  serializers: PGlite['serializers'];
  parsers: PGlite['parsers'];
}

/**
 * Named statements on the embedded database, as `pg` runs them on a server: parsed and described
 * once, then each call binds and executes by name in ONE protocol message. PGlite's own `query`
 * parses, analyses and plans the text again on every call, in six protocol calls; the placement
 * statement cost ~2.1 ms of CPU that way and ~0.8–0.95 ms named (500 placements, three rounds).
 * PostgreSQL replans a named statement when the schema changes, and after five runs may keep a
 * generic plan, exactly as on the server.
 */
export type NamedStatements = ReturnType<typeof createNamedStatements>;

// Prepared statements belong to the database session, so every wrapper of one PGlite instance
// must share what it knows has been prepared (a second Parse of a name fails).
const byInstance = new WeakMap<PGlite, NamedStatements>();

/** A PGlite instance of this thread as a protocol session (one protocol call at a time, as its own `query`). */
function sessionOf(pglite: PGlite): ProtocolSession {
  return {
    async exec(message, options) {
      // As PGlite's own `query`: a closed database rejects with "PGlite is closed".
      await pglite._checkReady();
      return pglite._runExclusiveQuery(async () => (await pglite.execProtocol(message, options)).messages);
    },
    serializers: pglite.serializers,
    parsers: pglite.parsers,
  };
}

/** The named statements of `pglite`'s session. */
export function namedStatementsOf(pglite: PGlite): NamedStatements {
  let named = byInstance.get(pglite);
  if (!named) {
    named = createNamedStatements(sessionOf(pglite));
    byInstance.set(pglite, named);
  }
  return named;
}

/** Binds `params` as PGlite's own `query` does, by the types PostgreSQL described for them. */
export function serializeParams(session: ProtocolSession, paramTypes: readonly number[], params: readonly unknown[]): (string | null)[] {
  return params.map((value, i) => {
    if (value === null || value === undefined) return null;
    const serializer = session.serializers[paramTypes[i] ?? 0];
    // As PGlite's own `query` does for a type it has no serializer for.
    return serializer ? serializer(value) : (value as { toString(): string }).toString();
  });
}

/** The rows of the one statement `messages` answer. */
export function resultOf<Row>(session: ProtocolSession, messages: BackendMessages): QueryResult<Row> {
  const [result] = parse.parseResults(messages, session.parsers);
  const rows = (result?.rows ?? []) as Row[];
  return { rows, rowCount: result?.affectedRows || rows.length };
}

/** SQLSTATE of "prepared statement … does not exist". */
const INVALID_STATEMENT_NAME = '26000';

export function createNamedStatements(session: ProtocolSession) {
  // A promise, so two calls of a new name at once prepare it once (a session may run calls pipelined).
  const prepared = new Map<string, { text: string; paramTypes: Promise<number[]> }>();

  /** Parses and describes the statement under `name` once; answers its parameters' types. */
  function prepare(name: string, text: string, syncToFs: boolean): Promise<number[]> {
    const known = prepared.get(name);
    if (known) {
      // A name names one text for the life of the database session, as in `pg`.
      if (known.text !== text) return Promise.reject(new Error(`statement name "${name}" is already used for another statement`));
      return known.paramTypes;
    }
    const paramTypes = session
      .exec(Buffer.concat([serialize.parse({ name, text }), serialize.describe({ type: 'S', name }), serialize.sync()]), { syncToFs })
      .then((messages) => parse.parseDescribeStatementResults(messages));
    prepared.set(name, { text, paramTypes });
    // A statement that failed to prepare (a syntax error) is not prepared: the next call tries again.
    paramTypes.catch(() => prepared.delete(name));
    return paramTypes;
  }

  return {
    /** The session was replaced by a new one, where nothing is prepared yet. */
    forget(): void {
      prepared.clear();
    },
    /**
     * Runs `text` under `name`, preparing it on first use. In a transaction it runs in it, and
     * the files are synced at its end, not after each statement (as PGlite does).
     */
    async run<Row>(name: string, text: string, params: readonly unknown[] = [], options: { inTransaction?: boolean } = {}): Promise<QueryResult<Row>> {
      const syncToFs = !options.inTransaction;
      const execute = async () => {
        const values = serializeParams(session, await prepare(name, text, syncToFs), params);
        return session.exec(
          Buffer.concat([serialize.bind({ statement: name, values }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]),
          { syncToFs },
        );
      };
      try {
        return resultOf<Row>(session, await execute());
      } catch (error) {
        // Prepared in a session that has since been replaced (the embedded database's thread
        // was started again): prepare it in this one. In a transaction the failure stands (it
        // aborted the transaction, and a replaced session ends the transaction anyway).
        if (options.inTransaction || (error as { code?: string }).code !== INVALID_STATEMENT_NAME) throw error;
        prepared.delete(name);
        return resultOf<Row>(session, await execute());
      }
    },
  };
}
