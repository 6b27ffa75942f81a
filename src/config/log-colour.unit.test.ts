import { describe, expect, it } from 'vitest';
import { colourLogs } from './log-colour.js';

describe('colour in pretty log lines', () => {
  it.each([
    ['stdout is a terminal', { isTTY: true }, true],
    ['stdout is a file or a pipe', { isTTY: false }, false],
    ['stdout is not a stream Node knows as a terminal', { isTTY: undefined }, false],
    ['NO_COLOR is set on a terminal', { isTTY: true, noColor: '1' }, false],
    ['FORCE_COLOR is set into a pipe', { isTTY: false, forceColor: '1' }, true],
    ['FORCE_COLOR=0 on a terminal', { isTTY: true, forceColor: '0' }, false],
    ['FORCE_COLOR=false on a terminal', { isTTY: true, forceColor: 'false' }, false],
    ['FORCE_COLOR and NO_COLOR are both set (FORCE_COLOR wins, as in Node)', { isTTY: false, noColor: '1', forceColor: '1' }, true],
  ])('when %s, then colour is %s', (_when, given: { isTTY: boolean | undefined; noColor?: string; forceColor?: string }, expected) => {
    expect(colourLogs({ noColor: undefined, forceColor: undefined, ...given })).toBe(expected);
  });
});
