import { describe, expect, it } from 'vitest';
import { DEFAULT_POOL_LIMITS as LIMITS, fitsInOneFewer, joinReason, nextPoolState, STANDBY, type PoolObservation, type PoolState } from './worker-pool-rules.js';

const busyLeader = { cpu: 0.95, slots: 1 };
const calmLeader = { cpu: 0.3, slots: 0.2 };
const seen = (overrides: Partial<PoolObservation>): PoolObservation => ({ holdsLease: false, active: [busyLeader], waiting: 40, hostIdle: 1.5, ...overrides });

/** Runs ticks from `state`, returning each tick's result. */
function ticks(state: PoolState, observations: PoolObservation[]) {
  const results: ReturnType<typeof nextPoolState>[] = [];
  for (const observation of observations) {
    const next = nextPoolState(state, observation, LIMITS);
    results.push(next);
    state = next.join ? { role: 'helper', pressured: 0, quiet: 0 } : next;
  }
  return results;
}

describe('worker pool rules', () => {
  it('makes whoever holds the lease the leader, from any role', () => {
    for (const role of ['standby', 'helper', 'leader'] as const) {
      expect(nextPoolState({ role, pressured: 1, quiet: 3 }, seen({ holdsLease: true }), LIMITS)).toEqual({ role: 'leader', pressured: 0, quiet: 0 });
    }
  });

  it('keeps a leader that lost its lease fetching jobs, as a helper that leaves by the usual rule', () => {
    expect(nextPoolState({ role: 'leader', pressured: 0, quiet: 0 }, seen({}), LIMITS).role).toBe('helper');
  });

  it('lets a standby join after two ticks of a busy leader, jobs waiting and a free core on its host', () => {
    const [first, second] = ticks(STANDBY, [seen({}), seen({})]);
    expect(first?.join).toBeUndefined();
    expect(second?.join).toBe('active workers at 0.95 cores each');
  });

  it('joins for job slots too: a leader waiting on slow payments uses little CPU but has no slot free', () => {
    const slotBound = seen({ active: [{ cpu: 0.1, slots: 0.97 }] });
    expect(joinReason(slotBound, LIMITS)).toBe("active workers' job slots 97 % busy");
  });

  it('keeps a standby out while its host has no free core: joining would share the CPU the active workers already use', () => {
    const results = ticks(STANDBY, Array.from({ length: 10 }, () => seen({ hostIdle: 0.2 })));
    expect(results.every((r) => r.role === 'standby' && !r.join)).toBe(true);
  });

  it('keeps a standby out while no job waits, or the active workers have room', () => {
    expect(ticks(STANDBY, [seen({ waiting: 0 }), seen({ waiting: 0 }), seen({ waiting: 0 })]).some((r) => r.join)).toBe(false);
    expect(ticks(STANDBY, [seen({ active: [calmLeader] }), seen({ active: [calmLeader] }), seen({ active: [calmLeader] })]).some((r) => r.join)).toBe(false);
  });

  it('starts counting again when the pressure breaks for a tick', () => {
    const results = ticks(STANDBY, [seen({}), seen({ hostIdle: 0 }), seen({})]);
    expect(results.map((r) => r.join !== undefined)).toEqual([false, false, false]);
  });

  it('lets a helper leave after five ticks in which the load fits in one worker fewer, and not before', () => {
    const helper: PoolState = { role: 'helper', pressured: 0, quiet: 0 };
    const light = seen({ active: [calmLeader, { cpu: 0.05, slots: 0.1 }] });
    const results = ticks(helper, Array.from({ length: 5 }, () => light));
    expect(results.map((r) => r.role)).toEqual(['helper', 'helper', 'helper', 'helper', 'standby']);
  });

  it('keeps a helper while two workers are needed, and does not count a busy tick towards leaving', () => {
    const helper: PoolState = { role: 'helper', pressured: 0, quiet: 4 };
    const shared = seen({ active: [{ cpu: 0.6, slots: 0.7 }, { cpu: 0.6, slots: 0.7 }] });
    expect(nextPoolState(helper, shared, LIMITS)).toEqual({ role: 'helper', pressured: 0, quiet: 0 });
  });

  it('never counts one active worker as fitting in none', () => {
    expect(fitsInOneFewer([{ cpu: 0, slots: 0 }], LIMITS)).toBe(false);
    expect(fitsInOneFewer([calmLeader, calmLeader, { cpu: 0, slots: 0 }], LIMITS)).toBe(true);
  });
});
