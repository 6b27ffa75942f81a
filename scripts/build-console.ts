/**
 * Bundles the web console (console/src) into static files for `GET /console`: one script and
 * one stylesheet with content-hashed names (cached for a year by the server), an icon, and
 * index.html (never cached) that refers to them. Part of `npm run build`.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_OUT_DIR = path.join(ROOT, 'dist/public/console');

const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1d4ed8"/><path d="M8 11h16l-2 10H10z" fill="none" stroke="#fff" stroke-width="2.5" stroke-linejoin="round"/><circle cx="12" cy="25" r="1.8" fill="#fff"/><circle cx="20" cy="25" r="1.8" fill="#fff"/></svg>`;

const hashOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 10);

export async function buildConsole(outDir = DEFAULT_OUT_DIR): Promise<{ script: string; stylesheet: string }> {
  const assets = path.join(outDir, 'assets');
  // Old hashed files would pile up build after build.
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(assets, { recursive: true });

  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { main: 'console/src/main.tsx', styles: 'console/src/styles.css' },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: assets,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
  });

  const outputs = Object.keys(result.metafile.outputs).map((file) => path.relative(assets, path.resolve(ROOT, file)));
  const script = outputs.find((file) => /^main-.*\.js$/.test(file));
  const stylesheet = outputs.find((file) => /^styles-.*\.css$/.test(file));
  if (!script || !stylesheet) throw new Error(`esbuild produced no script or stylesheet: ${outputs.join(', ')}`);
  const icon = `icon-${hashOf(ICON)}.svg`;
  writeFileSync(path.join(assets, icon), ICON);

  // No inline script or style: the page's CSP allows only these files.
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Order console</title>
<link rel="icon" href="/console/assets/${icon}" type="image/svg+xml">
<link rel="stylesheet" href="/console/assets/${stylesheet}">
<script type="module" src="/console/assets/${script}"></script>
</head>
<body>
<div id="app"></div>
<noscript><p>The order console needs JavaScript.</p></noscript>
</body>
</html>
`;
  writeFileSync(path.join(outDir, 'index.html'), html);
  return { script, stylesheet };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const built = await buildConsole(process.argv[2] ? path.resolve(process.argv[2]) : DEFAULT_OUT_DIR);
  process.stdout.write(`console built: ${built.script}, ${built.stylesheet}\n`);
}
