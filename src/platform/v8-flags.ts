import { setFlagsFromString } from 'node:v8';

/**
 * Whether the operator set V8 flag `name` (without its dashes) on Node's command line, or in
 * NODE_OPTIONS for the few V8 flags Node takes from there. V8 accepts `-` and `_` alike in flag
 * names, so both spellings count.
 */
export function operatorSetFlag(name: string, execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  const wanted = name.replaceAll('_', '-');
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => arg.replace(/^--?/, '').split('=')[0]?.replaceAll('_', '-') === wanted);
}

/**
 * Sets a V8 flag for the rest of the process unless the operator set it. Only for flags V8 reads
 * each time it uses them (not at start-up), so that setting them now takes effect.
 */
export function defaultV8Flag(name: string, value: number): boolean {
  if (operatorSetFlag(name)) return false;
  setFlagsFromString(`--${name}=${value}`);
  return true;
}

/**
 * How far V8 lets the old generation grow past what survived the last full collection, in
 * percent, in a process that holds everything itself (the embedded default). V8 otherwise picks
 * up to 4× by how little time the program spends collecting, and a busy API spends little:
 * after the same load the embedded API sat ~40 MiB lower at 2×, for no CPU the bench could tell
 * (docs/benchmarks.md, "The embedded default's memory, again"). V8 reads it at every full
 * collection.
 */
export const EMBEDDED_HEAP_GROWING_PERCENT = 100;
