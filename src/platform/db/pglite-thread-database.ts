import { parse, protocol, types } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.js';
import { createNamedStatements, resultOf, serializeParams, type ProtocolSession } from './pglite-statements.js';
import { DatabaseThreadError, type PGliteThread } from './pglite-thread.js';

const { serialize } = protocol;

/**
 * Parsers and serialisers for the array of every type, as PGlite adds them to its own when it
 * opens (`uuid[]` parameters, `int[]` columns).
 */
async function addArrayTypes(session: ProtocolSession): Promise<void> {
  const messages = await session.exec(
    serialize.query(`SELECT b.oid, b.typarray FROM pg_catalog.pg_type a JOIN pg_catalog.pg_type b ON b.oid = a.typelem
                     WHERE a.typcategory = 'A' GROUP BY b.oid, b.typarray`),
    { syncToFs: false },
  );
  for (const { oid, typarray } of resultOf<{ oid: number; typarray: number }>(session, messages).rows) {
    session.serializers[typarray] = (value) => types.arraySerializer(value, session.serializers[oid], typarray);
    session.parsers[typarray] = (text): unknown => types.arrayParser(text, session.parsers[oid]!, typarray);
  }
}

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * The `Database` of PGlite on its own thread. This thread parses rows and serialises parameters
 * (as `pg` does for a server); the database thread only runs PostgreSQL. Statements outside a
 * transaction are sent as they come, and the database thread runs them in that order while this
 * one goes on; a transaction holds the session: statements outside it wait until it ends.
 */
export async function wrapPGliteThread(thread: PGliteThread, onClose: () => void = () => undefined): Promise<Database> {
  const listeners = new Map<string, Set<() => void>>();
  const parser = new protocol.Parser();
  let closed = false;
  let closing: Promise<void> | undefined;
  // The session an open transaction began in: its statements run there or nowhere.
  let transactionSession: number | undefined;

  const parseReply = (reply: Uint8Array) => {
    const messages: Awaited<ReturnType<ProtocolSession['exec']>> = [];
    parser.parse(reply, (backendMessage) => messages.push(backendMessage));
    return messages;
  };
  const protocolSession: ProtocolSession = {
    async exec(message, { syncToFs }) {
      if (closed) throw new Error('PGlite is closed');
      let reply: Uint8Array;
      try {
        reply = await thread.exec(message, syncToFs, transactionSession);
      } catch (error) {
        // PostgreSQL's own errors are in the reply; a rejection is the thread's.
        throw error instanceof DatabaseThreadError ? error : new DatabaseThreadError(error);
      }
      const messages = parseReply(reply);
      let error: Error | undefined;
      for (const backendMessage of messages) {
        if (backendMessage instanceof protocol.messages.DatabaseError) error ??= backendMessage;
        else if (backendMessage instanceof protocol.messages.NotificationResponseMessage) {
          for (const notify of listeners.get(backendMessage.channel) ?? []) notify();
        }
      }
      if (error) throw error;
      return messages;
    },
    serializers: { ...types.serializers },
    parsers: { ...types.parsers },
  };
  const named = createNamedStatements(protocolSession);
  // A replacement thread is a new session: nothing is prepared in it, nothing listened to. What
  // was notified while no thread ran is unknown, so every listener hears once.
  thread.whenReplaced(async (exec) => {
    named.forget();
    for (const channel of listeners.keys()) {
      const failure = parseReply(await exec(serialize.query(`LISTEN ${quoteIdentifier(channel)}`))).find((m) => m instanceof protocol.messages.DatabaseError);
      if (failure) throw failure;
    }
    queueMicrotask(() => {
      for (const forChannel of listeners.values()) for (const notify of forChannel) notify();
    });
  });
  await addArrayTypes(protocolSession).catch(async (error: unknown) => {
    await thread.close();
    throw error;
  });

  async function unnamed<Row>(text: string, params: readonly unknown[], syncToFs: boolean): Promise<QueryResult<Row>> {
    let values: (string | null)[] = [];
    if (params.length > 0) {
      // The parameters' types first, as PGlite's own `query` does, to serialise them by type.
      const described = await protocolSession.exec(
        Buffer.concat([serialize.parse({ text }), serialize.describe({ type: 'S' }), serialize.sync()]),
        { syncToFs: false },
      );
      values = serializeParams(protocolSession, parse.parseDescribeStatementResults(described), params);
    }
    const messages = await protocolSession.exec(
      Buffer.concat([
        serialize.parse({ text }),
        serialize.bind({ values }),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
        serialize.sync(),
      ]),
      { syncToFs },
    );
    return resultOf<Row>(protocolSession, messages);
  }

  async function script(text: string, syncToFs: boolean): Promise<void> {
    await protocolSession.exec(serialize.query(text), { syncToFs });
  }

  function queryable(inTransaction: boolean, isOpen: () => boolean): Queryable {
    const ensureOpen = () => {
      if (!isOpen()) throw new Error('Transaction is closed');
    };
    return {
      async query(text, params = [], options) {
        ensureOpen();
        return options?.name ? named.run(options.name, text, params, { inTransaction }) : unnamed(text, params, !inTransaction);
      },
      async exec(text) {
        ensureOpen();
        await script(text, !inTransaction);
      },
    };
  }

  // Statements outside a transaction share the session (several may be in flight); a transaction
  // takes it alone, once those in flight are done: a statement of two round trips (the first use
  // of a name, or parameters to describe) must not have its second land inside a transaction.
  let inFlight = 0;
  let drained: (() => void) | undefined;
  let exclusive: Promise<void> | undefined;
  async function shared<T>(work: () => Promise<T>): Promise<T> {
    while (exclusive) await exclusive;
    inFlight++;
    try {
      return await work();
    } finally {
      if (--inFlight === 0) drained?.();
    }
  }
  async function alone<T>(work: () => Promise<T>): Promise<T> {
    while (exclusive) await exclusive;
    let end!: () => void;
    exclusive = new Promise((resolve) => (end = resolve));
    try {
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      drained = undefined;
      return await work();
    } finally {
      exclusive = undefined;
      end();
    }
  }

  const outside = queryable(false, () => true);
  const database: Database = {
    kind: 'pglite',
    query: (text, params, options) => shared(() => outside.query(text, params, options)),
    exec: (text) => shared(() => outside.exec(text)),
    transaction: (work) =>
      alone(async () => {
        let open = true;
        await script('BEGIN', false);
        transactionSession = thread.session;
        try {
          const result = await work(queryable(true, () => open));
          open = false;
          await script('COMMIT', true);
          return result;
        } catch (error) {
          open = false;
          await script('ROLLBACK', true).catch(() => undefined);
          throw error;
        } finally {
          transactionSession = undefined;
        }
      }),
    // The thread's database has one session: the database is it.
    session: (work) => work(database),
    async ping() {
      await shared(() => outside.query('SELECT 1'));
    },
    async listen(channel, onNotify) {
      const quoted = quoteIdentifier(channel);
      let forChannel = listeners.get(channel);
      if (!forChannel) {
        forChannel = new Set();
        listeners.set(channel, forChannel);
        await shared(() => script(`LISTEN ${quoted}`, true));
      }
      const notify = () => onNotify();
      forChannel.add(notify);
      return async () => {
        forChannel.delete(notify);
        if (forChannel.size === 0 && listeners.get(channel) === forChannel) {
          listeners.delete(channel);
          if (!closed) await shared(() => script(`UNLISTEN ${quoted}`, true));
        }
      };
    },
    close() {
      closing ??= alone(async () => {
        closed = true;
        await thread.close();
      }).then(onClose);
      return closing;
    },
  };
  return database;
}
