import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where tests run child processes from: `src/` transpiled file by file, without type checks.
 * It sits one level below the root, as `dist/` does, so paths the code builds from its own
 * location (`../../../migrations/`, `../../dist/public/console/`) point at the same places.
 */
export const CHILD_BUILD_DIR = path.join(ROOT, '.test-dist');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

/**
 * Transpiles `src/` into {@link CHILD_BUILD_DIR} (a few hundred milliseconds). A child started
 * with `--import tsx` routes every one of its ~1,000 module loads through tsx's loader thread,
 * which made each worker or API process of a test cost about three times the CPU of plain
 * JavaScript. Only files whose output changed are written, so a concurrent run reading the
 * folder never sees a half-written file of the same sources.
 */
export async function buildChildEntries(): Promise<void> {
  const result = await build({
    entryPoints: sources(path.join(ROOT, 'src')),
    outdir: CHILD_BUILD_DIR,
    outbase: path.join(ROOT, 'src'),
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    bundle: false,
    write: false,
    logLevel: 'silent',
  });
  for (const file of result.outputFiles) {
    if (existsSync(file.path) && readFileSync(file.path).equals(file.contents)) continue;
    mkdirSync(path.dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.contents);
  }
}

/** `src/worker.ts` → the absolute path of its transpiled `.js` in {@link CHILD_BUILD_DIR}. */
export function childEntry(entry: string): string {
  const relative = path.relative(path.join(ROOT, 'src'), path.resolve(ROOT, entry));
  if (relative.startsWith('..') || !relative.endsWith('.ts')) throw new Error(`${entry} is not a TypeScript file under src/`);
  return path.join(CHILD_BUILD_DIR, relative.replace(/\.ts$/, '.js'));
}
