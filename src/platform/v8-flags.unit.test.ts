import { describe, expect, it } from 'vitest';
import { operatorSetFlag } from './v8-flags.js';

describe('operatorSetFlag', () => {
  it('finds a flag on the command line, with or without a value, in either spelling', () => {
    expect(operatorSetFlag('heap-growing-percent', ['--heap-growing-percent=50'], '')).toBe(true);
    expect(operatorSetFlag('heap-growing-percent', ['--heap_growing_percent', '50'], '')).toBe(true);
    expect(operatorSetFlag('wasm-num-compilation-tasks', ['--enable-source-maps', '--wasm_num_compilation_tasks=4'], '')).toBe(true);
  });

  it('finds a flag in NODE_OPTIONS among others', () => {
    expect(operatorSetFlag('heap-growing-percent', [], '--max-old-space-size=512  --heap-growing-percent=0 --trace-warnings')).toBe(true);
  });

  it('does not take a flag whose name merely starts the same, or one that is absent', () => {
    expect(operatorSetFlag('heap-growing-percent', ['--heap-growing-percent-extra=1'], '--heap-growing')).toBe(false);
    expect(operatorSetFlag('wasm-num-compilation-tasks', ['--cpu-prof'], '')).toBe(false);
    expect(operatorSetFlag('heap-growing-percent', [], '')).toBe(false);
  });
});
