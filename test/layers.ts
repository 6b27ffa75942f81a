/**
 * The suite's three layers, named by file suffix for what they prove (README § Testing):
 *  - unit       `*.unit.test.ts`       pure logic, no I/O, no database: milliseconds.
 *  - component  `*.component.test.ts`  one module's service or job handler called directly on real
 *                                      PostgreSQL / PGlite / Redis.
 *  - e2e        `*.e2e.test.ts`        the app over HTTP, separate processes, browsers, SMTP.
 * A plain `*.test.ts` counts as end-to-end until it is given a layer.
 */
export type Layer = 'unit' | 'component' | 'e2e';

export const LAYERS: readonly Layer[] = ['unit', 'component', 'e2e'];

export const UNIT_FILES = ['src/**/*.unit.test.ts', 'test/**/*.unit.test.ts', 'scripts/**/*.unit.test.ts'];
export const COMPONENT_FILES = ['src/**/*.component.test.ts', 'test/**/*.component.test.ts'];
export const ALL_FILES = ['src/**/*.test.ts', 'test/**/*.test.ts', 'scripts/**/*.test.ts'];

/** The layer a test file belongs to, by its name. */
export function layerOf(file: string): Layer {
  if (file.endsWith('.unit.test.ts')) return 'unit';
  if (file.endsWith('.component.test.ts')) return 'component';
  return 'e2e';
}
