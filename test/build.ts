import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function newestMtimeMs(dir: string, accept: (file: string) => boolean): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if (entry.isFile() && accept(file)) newest = Math.max(newest, statSync(file).mtimeMs);
  }
  return newest;
}

/**
 * Whether `dist/` was built after every source file and the build config last changed. tsc
 * writes dist/.tsbuildinfo on every build that emits, so it dates the build; a no-op `tsc` still
 * costs seconds of CPU, which this check (a few stat calls) saves.
 */
export function buildIsFresh(root: string): boolean {
  let builtAt: number;
  try {
    builtAt = statSync(path.join(root, 'dist', '.tsbuildinfo')).mtimeMs;
    statSync(path.join(root, 'dist', 'server.js'));
  } catch {
    return false;
  }
  const sources = newestMtimeMs(path.join(root, 'src'), (file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));
  const configs = Math.max(...['tsconfig.json', 'package.json'].map((name) => statSync(path.join(root, name)).mtimeMs));
  return Math.max(sources, configs) < builtAt;
}
