/**
 * Architecture rules (see /work/shared/CONVENTIONS.md, "Dependency direction"):
 * routes → service → repository → platform; modules meet only through their index.ts.
 * Run by `npm run lint` as `depcruise src --config .dependency-cruiser.cjs`.
 */

const TEST_FILE = '\\.test\\.ts$';
/** Infrastructure libraries a service or repository must reach only through src/platform. */
const INFRASTRUCTURE = '(^|/)node_modules/(@types/)?(express|express-serve-static-core|pg|ioredis|bullmq|nodemailer|@electric-sql/pglite)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make module initialisation order and boundaries fragile; break the cycle.',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'no-circular-via-types',
      // Erased at build time, so no runtime hazard; reported so the cycle gets untangled.
      severity: 'warn',
      comment: 'A cycle that exists only through `import type`; move the shared type to a file both can import.',
      from: {},
      to: { circular: true, via: { dependencyTypes: ['type-only'] } },
    },
    {
      name: 'platform-not-upward',
      severity: 'error',
      comment: 'src/platform is infrastructure: it must not know about features, middleware or the app wiring.',
      from: { path: '^src/platform/' },
      to: { path: ['^src/modules/', '^src/middleware/', '^src/app\\.ts$', '^src/runtime\\.ts$'] },
    },
    {
      name: 'shared-is-a-leaf',
      severity: 'error',
      comment: 'src/shared holds plain types and errors; it imports nothing from src outside src/shared.',
      from: { path: '^src/shared/' },
      to: { path: '^src/', pathNot: '^src/shared/' },
    },
    {
      name: 'modules-meet-through-index',
      severity: 'error',
      comment:
        'A module imports another module only through its index.ts (e.g. orders → src/modules/catalog/index.ts), ' +
        'never its internals.',
      // Tests may set up state through another module's internals.
      from: { path: '^src/modules/([^/]+)/', pathNot: TEST_FILE },
      to: { path: '^src/modules/([^/]+)/', pathNot: ['^src/modules/$1/', '^src/modules/[^/]+/index\\.ts$'] },
    },
    {
      name: 'services-without-infrastructure',
      severity: 'error',
      comment:
        'Services and repositories get plain inputs and reach the outside through src/platform; ' +
        'they never import express, pg, ioredis, bullmq, nodemailer or PGlite (types included).',
      from: { path: '\\.(service|repository)\\.ts$' },
      to: { path: INFRASTRUCTURE },
    },
    {
      name: 'src-not-to-test',
      severity: 'error',
      comment: 'Production code never imports test helpers; only *.test.ts files may.',
      from: { path: '^src/', pathNot: TEST_FILE },
      to: { path: '^test/' },
    },
    {
      name: 'src-not-to-dev-dep',
      severity: 'error',
      comment:
        'Production code must not import devDependencies: `npm ci --omit=dev` would break it. ' +
        'Type-only imports of @types packages are fine (erased at build).',
      from: { path: '^src/', pathNot: TEST_FILE },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'], pathNot: 'node_modules/@types/' },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment: 'An imported npm package must be declared in package.json.',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'This import does not resolve to a file.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-deprecated-core',
      severity: 'error',
      comment: 'Deprecated Node.js core module.',
      from: {},
      to: { dependencyTypes: ['core'], path: '^(punycode|domain|constants|sys|_linklist|_stream_wrap)$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a service importing `type { Request } from 'express'` is still coupled to HTTP.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.check.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
