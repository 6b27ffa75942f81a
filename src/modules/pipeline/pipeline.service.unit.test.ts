import { describe, expect, it } from 'vitest';
import { fillBuckets } from './pipeline.service.js';

describe('fillBuckets', () => {
  it('when some buckets saw no orders, then they are present with zeros, oldest first', () => {
    const buckets = fillBuckets(
      [
        { bucket: 1000, kind: 'placed', count: 3 },
        { bucket: 1020, kind: 'completed', count: 2 },
        { bucket: 1020, kind: 'failed', count: 1 },
      ],
      1000,
      3,
      10,
    );
    expect(buckets).toEqual([
      { at: new Date(1_000_000).toISOString(), placed: 3, completed: 0, failed: 0 },
      { at: new Date(1_010_000).toISOString(), placed: 0, completed: 0, failed: 0 },
      { at: new Date(1_020_000).toISOString(), placed: 0, completed: 2, failed: 1 },
    ]);
  });

  it('when a count falls outside the window (a clock edge), then it is left out rather than misplaced', () => {
    expect(fillBuckets([{ bucket: 990, kind: 'placed', count: 5 }], 1000, 2, 10).every((bucket) => bucket.placed === 0)).toBe(true);
  });
});
