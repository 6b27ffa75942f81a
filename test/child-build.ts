import path from 'node:path';
import { ROOT, transpileSources } from '../scripts/transpile.js';

/**
 * Where tests run child processes from: `src/` transpiled file by file, without type checks
 * (scripts/transpile.ts, the same step `npm run build` uses for `dist/`). It sits one level
 * below the root, as `dist/` does, so paths the code builds from its own location
 * (`../../../migrations/`, `../../dist/public/console/`) point at the same places.
 */
export const CHILD_BUILD_DIR = path.join(ROOT, '.test-dist');

/**
 * Transpiles `src/` into {@link CHILD_BUILD_DIR} (a few hundred milliseconds). A child started
 * with `--import tsx` routes every one of its ~1,000 module loads through tsx's loader thread,
 * which made each worker or API process of a test cost about three times the CPU of plain
 * JavaScript.
 */
export async function buildChildEntries(): Promise<void> {
  await transpileSources(CHILD_BUILD_DIR, { sourcemap: 'inline' });
}

/** `src/worker.ts` → the absolute path of its transpiled `.js` in {@link CHILD_BUILD_DIR}. */
export function childEntry(entry: string): string {
  const relative = path.relative(path.join(ROOT, 'src'), path.resolve(ROOT, entry));
  if (relative.startsWith('..') || !relative.endsWith('.ts')) throw new Error(`${entry} is not a TypeScript file under src/`);
  return path.join(CHILD_BUILD_DIR, relative.replace(/\.ts$/, '.js'));
}
