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
