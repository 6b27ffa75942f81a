import { PassThrough } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { createLogger } from './logger.js';

const flush = () => new Promise((resolve) => setImmediate(resolve));
// Without the colour codes around the level, which a terminal gets.
const plain = (text: string) => stripVTControlCharacters(text);

describe('the terminal log format', () => {
  it('when a line is logged, then it reads HH:MM:SS level message key=value, with a stack below when there is one', async () => {
    const stream = new PassThrough();
    let out = '';
    stream.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const logger = createLogger({ level: 'info', format: 'pretty', stream });
    logger.info('order service listening', { database: 'pglite', port: 5000, note: 'two words', list: ['a'] });
    logger.warn('failed', new Error('boom'));
    await flush();
    const lines = plain(out).split('\n');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d info order service listening database=pglite port=5000 note="two words" list=\["a"\]$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d warn failed boom$/);
    expect(lines[2]).toBe('Error: boom');
    expect(lines[3]).toMatch(/^\s+at /);
  });
});

describe('request lines', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres', captureLogs: true });
  });
  afterAll(async () => {
    await app.close();
  });

  it('when probes and scrapes arrive, then they log at debug (below info), while API requests log at info', async () => {
    await app.http.get('/health/live');
    await app.http.get('/health/ready');
    await app.http.get('/metrics');
    await app.http.get('/api/products');
    await flush();
    const requests = app.logs.filter((line) => line.message === 'request');
    expect(requests.map((line) => line.route)).toEqual(['/api/products']);
  });
});
