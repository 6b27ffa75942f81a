import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../src/platform/logger.js';

/** A real logger whose JSON lines are kept, parsed, in `lines`, for asserting what was logged. */
export function capturingLogger(level = 'debug'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level, format: 'json', stream }), lines };
}
