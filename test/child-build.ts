import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { ROOT, transpileSources } from '../scripts/transpile.js';

/**
 * Where tests run child processes from: `src/` transpiled file by file, without type checks
 * (scripts/transpile.ts, the same step `npm run build` uses for `dist/`). It sits one level
 * below the root, as `dist/` does, so paths the code builds from its own location
 * (`../../../migrations/`, `../../dist/public/console/`) point at the same places.
 */
export const CHILD_BUILD_DIR = path.join(ROOT, '.test-dist');

/**
 * The entry points tests start as processes, most of them many times a run (~40 starts). Each
 * is also bundled into one file with the packages it uses: loading ~1,000 separate modules cost
 * a child ~0.85 s of CPU, the bundle ~0.45 s.
 */
const BUNDLED_ENTRIES = ['src/server.ts', 'src/worker.ts', 'src/scripts/admin.ts'];
const BUNDLE_DIR = path.join(CHILD_BUILD_DIR, 'bundles');

/**
 * Packages left out of the bundles, loaded from node_modules as usual: native addons, and
 * packages that read files next to their own code (PGlite's WebAssembly, Swagger UI's and Bull
 * Board's static assets). swagger-ui-express is bundled: left out, its `require('express')`
 * loaded a second Express from node_modules in every API start (~0.08 s of CPU).
 */
const UNBUNDLED_PACKAGES = ['argon2', 'msgpackr-extract', '@electric-sql/pglite', 'swagger-ui-dist', '@bull-board/*'];

/**
 * In a bundle every module would share the bundle's `import.meta.url`; our modules that find
 * files from their own location (migrations, package.json, the console's assets, PGlite's entry)
 * get the URL of their source file instead, which is as deep below the root as the build's copy.
 */
const ownUrlPerModule: Plugin = {
  name: 'own-import-meta-url',
  setup(builder) {
    builder.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      return { contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};

/**
 * Transpiles `src/` into {@link CHILD_BUILD_DIR} (a few hundred milliseconds) and bundles the
 * entries tests start as processes (about a second). A child started with `--import tsx` routed
 * every one of its module loads through tsx's loader thread, about three times the CPU.
 */
export async function buildChildEntries(): Promise<void> {
  const inputs = buildInputsDigest();
  if (readStamp() === inputs && BUNDLED_ENTRIES.every((entry) => existsSync(childEntry(entry)))) return;
  // In turn: the transpile step removes what it did not write, the bundles included.
  await transpileSources(CHILD_BUILD_DIR, { sourcemap: 'inline' });
  await build({
    entryPoints: BUNDLED_ENTRIES.map((entry) => path.join(ROOT, entry)),
    outdir: BUNDLE_DIR,
    outbase: path.join(ROOT, 'src'),
    bundle: true,
    // A dynamic import stays lazy in a chunk of its own (the worker never loads Bull Board).
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    external: UNBUNDLED_PACKAGES,
    plugins: [ownUrlPerModule],
    // CommonJS packages inside an ES module bundle still call require() and read __dirname.
    banner: {
      js: [
        "import { createRequire as __bundleRequire } from 'node:module';",
        "import { fileURLToPath as __bundleFileURLToPath } from 'node:url';",
        'const require = __bundleRequire(import.meta.url);',
        'const __filename = __bundleFileURLToPath(import.meta.url);',
        "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
      ].join(' '),
    },
    logLevel: 'warning',
  });
  writeFileSync(STAMP, inputs);
}

/**
 * Names everything the child build is made from: the sources, the installed packages, the build
 * code itself and Node's version. When it matches the last build's, the build is skipped (~2.5 s
 * of esbuild's CPU and ~1.3 s at the start of every run after the first).
 */
const STAMP = path.join(CHILD_BUILD_DIR, '.inputs-sha256');
function buildInputsDigest(): string {
  const hash = createHash('sha256').update(process.version);
  const files = [
    ...readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
      .map((file) => path.join('src', file)),
    'package-lock.json',
    'node_modules/.package-lock.json',
    'tsconfig.json',
    'test/child-build.ts',
    'scripts/transpile.ts',
  ].sort();
  for (const file of files) {
    const full = path.join(ROOT, file);
    hash.update(`\0${file}\0`).update(existsSync(full) ? readFileSync(full) : 'absent');
  }
  return hash.digest('hex');
}

function readStamp(): string | undefined {
  return existsSync(STAMP) ? readFileSync(STAMP, 'utf8') : undefined;
}

/**
 * `src/worker.ts` → the absolute path of the file a child process runs for it: the bundle for
 * the entries that have one, else its transpiled `.js` in {@link CHILD_BUILD_DIR}.
 */
export function childEntry(entry: string): string {
  const relative = path.relative(path.join(ROOT, 'src'), path.resolve(ROOT, entry));
  if (relative.startsWith('..') || !relative.endsWith('.ts')) throw new Error(`${entry} is not a TypeScript file under src/`);
  const js = relative.replace(/\.ts$/, '.js');
  return BUNDLED_ENTRIES.includes(path.join('src', relative)) ? path.join(BUNDLE_DIR, js) : path.join(CHILD_BUILD_DIR, js);
}

/**
 * Node's flags for a child started from {@link childEntry}. Source maps only on request
 * (`TEST_SOURCE_MAPS=1`): reading a bundle's map added ~0.1 s of CPU to every start (~40 a run);
 * without it a child's stack trace names the bundle's lines, with the functions' own names.
 */
export function childNodeFlags(): string[] {
  return process.env.TEST_SOURCE_MAPS === '1' ? ['--enable-source-maps'] : [];
}
