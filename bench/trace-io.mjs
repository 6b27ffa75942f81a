/**
 * Diagnostics for `npm run bench`: counts the SQL statements (by prepared name, or the start of
 * their text) and Redis commands a process sends, with the time each kind waited for its answer,
 * and writes them to BENCH_TRACE_DIR/<pid>.json when the process exits. Preload it into the
 * processes under test, e.g.
 *   BENCH_SERVER_ENV='{"NODE_OPTIONS":"--import ./bench/trace-io.mjs","BENCH_TRACE_DIR":"/tmp/trace"}'
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';

const dir = process.env.BENCH_TRACE_DIR ?? '/tmp/bench-trace';
const sql = new Map();
const redis = new Map();
const note = (table, key, ms) => {
  const entry = table.get(key) ?? { count: 0, ms: 0 };
  entry.count++;
  entry.ms += ms;
  table.set(key, entry);
};
const sqlKey = (config) => {
  if (typeof config === 'string') return config.replace(/\s+/g, ' ').slice(0, 90);
  return config?.name ?? String(config?.text ?? '?').replace(/\s+/g, ' ').slice(0, 90);
};

const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (config, values, callback) {
  const started = performance.now();
  const key = sqlKey(config);
  const result = query.call(this, config, values, callback);
  if (result && typeof result.then === 'function') {
    result.then(
      () => note(sql, key, performance.now() - started),
      () => note(sql, `${key} (failed)`, performance.now() - started),
    );
  } else note(sql, key, 0);
  return result;
};

const sendCommand = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (command, stream) {
  const started = performance.now();
  const name = command.name === 'evalsha' ? `evalsha ${String(command.args[2] ?? '').split(':').pop()}` : command.name;
  command.promise.then(
    () => note(redis, name, performance.now() - started),
    () => note(redis, `${name} (failed)`, performance.now() - started),
  );
  return sendCommand.call(this, command, stream);
};

const sorted = (table) =>
  Object.fromEntries([...table].sort((a, b) => b[1].count - a[1].count).map(([key, { count, ms }]) => [key, { count, ms: Math.round(ms) }]));
process.on('exit', () => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify({ argv: process.argv.slice(1), sql: sorted(sql), redis: sorted(redis) }, null, 1));
});
