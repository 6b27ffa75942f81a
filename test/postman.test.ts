import { readFileSync } from 'node:fs';
import newman, { type NewmanRunFailure, type NewmanRunOptions, type NewmanRunSummary } from 'newman';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe('postman_collection.json', () => {
  let app: TestApp;
  let admin: TestUser;

  beforeAll(async () => {
    // Processing starts right after a commit; a 1 s relay delay (a cancellation window) keeps
    // "place, then cancel" from racing the worker most of the time. The collection retries
    // that step with a fresh order when the worker wins anyway.
    app = await startTestApp({ storage: 'pglite', processing: true, env: { OUTBOX_RELAY_DELAY_MS: '1000' } });
    admin = await registerAdmin(app);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('runs the whole story with every assertion passing', async () => {
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

    const assertions = summary.run.stats.assertions;
    expect(assertions.failed).toBe(0);
    expect(assertions.total, `executed assertions (${assertions.total}) vs written (${written})`).toBeGreaterThanOrEqual(written);
  }, 60_000);
});
