/**
 * `npm run build`: the service into `dist/` (scripts/transpile.ts) and the web console into
 * `dist/public/console/` (scripts/build-console.ts). Types are checked by `npm run typecheck`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConsole } from './build-console.js';
import { ROOT, transpileSources } from './transpile.js';

export const DIST_DIR = path.join(ROOT, 'dist');

/** Builds what `npm start` runs; cheap when nothing changed (unchanged files are not rewritten). */
export async function buildService(options: { console: boolean } = { console: true }): Promise<void> {
  await transpileSources(DIST_DIR, { sourcemap: 'linked' });
  if (options.console) await buildConsole();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  await buildService();
  process.stdout.write(`built dist/ in ${Date.now() - started} ms\n`);
}
