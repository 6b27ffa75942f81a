import { readFileSync } from 'node:fs';
import newman, { type NewmanRunFailure, type NewmanRunOptions, type NewmanRunSummary } from 'newman';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './harness.js';
import { registerAdmin, type TestUser } from './users.js';

/**
 * The shipped postman_collection.json, run by newman against the real app (real HTTP, embedded
 * PostgreSQL, in-process queue and workers): every request it makes and every pm.test it holds
 * must pass, and none may be skipped.
 */

interface ScriptEvent {
  listen: string;
  script: { exec: string[] };
}
interface CollectionNode {
  name: string;
  event?: ScriptEvent[];
  request?: unknown;
  item?: CollectionNode[];
}

const collection = JSON.parse(readFileSync(new URL('../postman_collection.json', import.meta.url), 'utf8')) as CollectionNode;

/** The `pm.test(` calls written in a node's own test scripts. */
function testsWritten(node: CollectionNode): number {
  const source = (node.event ?? [])
    .filter((event) => event.listen === 'test')
    .flatMap((event) => event.script.exec)
    .join('\n');
  return source.match(/\bpm\.test\(/g)?.length ?? 0;
}

function requestsOf(node: CollectionNode): CollectionNode[] {
  return node.request ? [node] : (node.item ?? []).flatMap(requestsOf);
}

function describeFailure(failure: NewmanRunFailure): string {
  const error = failure.error as NewmanRunFailure['error'] & { test?: string };
  return `- ${failure.source?.name ?? '(collection)'} [${failure.at}] ${error.test ?? error.name}: ${error.message}`;
}

function runCollection(options: NewmanRunOptions): Promise<NewmanRunSummary> {
  return new Promise((resolve, reject) => {
    newman.run(options, (error, summary) => (error ? reject(error) : resolve(summary)));
  });
}

/**
 * Processing races "Cancel the second order": the collection accepts both correct answers.
 * `npm start`'s default (no relay delay) is what an operator runs it against, and processing
 * usually wins there (409); a relay delay keeps the order pending, so the cancel's own answer
 * (200, cancelled) is checked as surely.
 */
const SETUPS: [string, Record<string, string>, number | undefined][] = [
  ['as npm start runs it (processing starts at once)', {}, undefined],
  ['with a 3 s relay delay (the cancel wins)', { OUTBOX_RELAY_DELAY_MS: '3000' }, 200],
];

describe('postman_collection.json', () => {
  let app: TestApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it.each(SETUPS)('%s, then it runs the whole story with every assertion passing', async (_setup, env, cancelStatus) => {
    app = await startTestApp({ storage: 'pglite', processing: true, env });
    const admin: TestUser = await registerAdmin(app);
    const requests = requestsOf(collection);
    const perRequest = testsWritten(collection);
    const written = requests.reduce((sum, request) => sum + testsWritten(request) + perRequest, 0);
    expect(requests.length).toBeGreaterThanOrEqual(20);

    const summary = await runCollection({
      collection,
      envVar: [
        { key: 'baseUrl', value: app.baseUrl },
        { key: 'adminEmail', value: admin.email },
        { key: 'adminPassword', value: admin.password },
        { key: 'pollDelayMs', value: '200' },
        { key: 'pollMax', value: '60' },
      ],
      reporters: process.env.TEST_LOGS === '1' ? ['cli'] : [],
      timeout: 50_000,
      timeoutRequest: 10_000,
      timeoutScript: 10_000,
    });

    const failures = summary.run.failures.map(describeFailure);
    expect(failures, `newman reported ${failures.length} failure(s):\n${failures.join('\n')}`).toEqual([]);
    expect(summary.error, 'newman run error').toBeUndefined();

    const executed = new Set(summary.run.executions.map((execution) => execution.item.name));
    const skipped = requests.map((request) => request.name).filter((name) => !executed.has(name));
    expect(skipped, 'requests the run never sent').toEqual([]);
    // One order placed and cancelled, whichever won: no going back for another.
    const cancels = summary.run.executions.filter((execution) => execution.item.name === 'Cancel the second order');
    expect(cancels).toHaveLength(1);
    if (cancelStatus !== undefined) expect(cancels[0]?.response.code).toBe(cancelStatus);

    const assertions = summary.run.stats.assertions;
    expect(assertions.failed).toBe(0);
    expect(assertions.total, `executed assertions (${assertions.total}) vs written (${written})`).toBeGreaterThanOrEqual(written);
  }, 60_000);
});
