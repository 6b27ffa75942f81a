import { PassThrough } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { runWithJobContext } from './job-context.js';

function capture(level: string) {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { logger: createLogger({ level, format: 'json', stream }), lines };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('logger', () => {
  it('writes lines at or above its level as JSON with a timestamp and the current job\'s id as jobId', async () => {
    const { logger, lines } = capture('info');
    runWithJobContext({ jobId: 'job-1' }, () => logger.info('hello', { orderId: 'o-1' }));
    logger.warn('outside any request');
    await flush();
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', message: 'hello', orderId: 'o-1', jobId: 'job-1', timestamp: expect.any(String) }),
      expect.objectContaining({ level: 'warn', message: 'outside any request' }),
    ]);
    // requestId names HTTP requests only.
    expect(lines[0]).not.toHaveProperty('requestId');
    expect(lines[1]).not.toHaveProperty('jobId');
  });

  it.each([
    [false, 'without colour codes, so a file or a pipe gets plain text'],
    [true, 'with the level coloured, for a terminal'],
  ])('when pretty with colour %s, then lines are written %s', async (colour) => {
    const stream = new PassThrough();
    let out = '';
    stream.on('data', (chunk: Buffer) => (out += chunk.toString()));
    createLogger({ level: 'info', format: 'pretty', colour, stream }).warn('Redis is unreachable', { port: 6379 });
    await flush();
    expect(stripVTControlCharacters(out)).toMatch(/^\d\d:\d\d:\d\d warn Redis is unreachable port=6379\n$/);
    expect(out !== stripVTControlCharacters(out)).toBe(colour);
  });

  it('drops lines below its level, and follows a level changed at run time', async () => {
    const { logger, lines } = capture('warn');
    logger.info('dropped');
    logger.debug('dropped too');
    logger.error('kept', new Error('boom'));
    logger.level = 'debug';
    logger.debug('now kept');
    await flush();
    expect(lines.map((line) => line.message)).toEqual(['kept boom', 'now kept']);
    expect(lines[0]).toHaveProperty('stack');
  });
});
