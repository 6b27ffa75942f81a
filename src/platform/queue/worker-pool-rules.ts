/**
 * When a worker process fetches jobs. One worker (the leader, holding a lease) always does; the
 * others wait on standby and join only when the active ones are short of CPU or of job slots
 * *and* the standby's own host has a free core. On a host whose cores are already busy (the
 * API, PostgreSQL and one worker sharing two cores), a second worker fetching jobs adds no CPU:
 * it splits the batches, and every process spends more per order (docs/benchmarks.md, "Two
 * workers, one of them idle"). Where it has a core of its own, it adds that core.
 *
 * Pure: the coordinator (`worker-pool.ts`) measures, reads Redis and applies the result.
 */

export type PoolRole = 'leader' | 'helper' | 'standby';

export interface PoolLimits {
  /** Mean CPU of the active workers (cores each) at or above which they count as short of CPU. */
  joinCpu: number;
  /** Mean share of the active workers' job slots busy (time-weighted, 0–1) at or above which they count as short of slots. */
  joinSlots: number;
  /** Idle cores the standby's host must have, so that joining adds CPU instead of sharing it. */
  joinHostIdle: number;
  /** Ticks in a row the pressure must last before a standby joins (one busy second is not a trend). */
  joinTicks: number;
  /** A helper leaves once the load would fit in one worker fewer at this share of the join thresholds. */
  leaveShare: number;
  /** Ticks in a row the load must fit before a helper leaves. */
  leaveTicks: number;
}

export const DEFAULT_POOL_LIMITS: PoolLimits = { joinCpu: 0.8, joinSlots: 0.9, joinHostIdle: 0.75, joinTicks: 2, leaveShare: 0.5, leaveTicks: 5 };

/** What one active worker reported for its last tick. */
export interface WorkerLoad {
  /** Cores of CPU its process used. */
  cpu: number;
  /** Share of its job slots that were busy, time-weighted. */
  slots: number;
}

export interface PoolObservation {
  /** Whether this worker holds the leader's lease after this tick's attempt to take or renew it. */
  holdsLease: boolean;
  /** The fresh loads of every active worker, this one included when it is active. */
  active: readonly WorkerLoad[];
  /** Jobs waiting for a worker. */
  waiting: number;
  /** Idle cores on this worker's host over the last tick. */
  hostIdle: number;
}

export interface PoolState {
  role: PoolRole;
  /** Consecutive ticks a standby saw the active workers short of CPU or slots. */
  pressured: number;
  /** Consecutive ticks a helper saw the load fit in one worker fewer. */
  quiet: number;
}

export const STANDBY: PoolState = { role: 'standby', pressured: 0, quiet: 0 };

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** Why a standby would join now, or undefined: the active workers are short and this host can add a core. */
export function joinReason(observation: PoolObservation, limits: PoolLimits): string | undefined {
  const { active, waiting, hostIdle } = observation;
  if (active.length === 0 || waiting === 0 || hostIdle < limits.joinHostIdle) return undefined;
  const cpu = mean(active.map((load) => load.cpu));
  const slots = mean(active.map((load) => load.slots));
  if (cpu >= limits.joinCpu) return `active workers at ${cpu.toFixed(2)} cores each`;
  if (slots >= limits.joinSlots) return `active workers' job slots ${Math.round(slots * 100)} % busy`;
  return undefined;
}

/** Whether the active workers' load would fit in one fewer, with room to spare. */
export function fitsInOneFewer(active: readonly WorkerLoad[], limits: PoolLimits): boolean {
  const fewer = active.length - 1;
  if (fewer < 1) return false;
  return (
    sum(active.map((load) => load.cpu)) <= fewer * limits.joinCpu * limits.leaveShare &&
    sum(active.map((load) => load.slots)) <= fewer * limits.joinSlots * limits.leaveShare
  );
}

/**
 * The next state after a tick. `join` asks the coordinator to take the join token (one standby
 * joins at a time: the others see the new helper's load before they decide).
 */
export function nextPoolState(state: PoolState, observation: PoolObservation, limits: PoolLimits): PoolState & { join?: string } {
  if (observation.holdsLease) return { role: 'leader', pressured: 0, quiet: 0 };
  switch (state.role) {
    case 'leader':
      // The lease went elsewhere (a long pause, or Redis failed over): stay active, leave by the usual rule.
      return { role: 'helper', pressured: 0, quiet: 0 };
    case 'helper': {
      const quiet = fitsInOneFewer(observation.active, limits) ? state.quiet + 1 : 0;
      return quiet >= limits.leaveTicks ? STANDBY : { role: 'helper', pressured: 0, quiet };
    }
    case 'standby': {
      const reason = joinReason(observation, limits);
      const pressured = reason ? state.pressured + 1 : 0;
      return pressured >= limits.joinTicks && reason ? { role: 'standby', pressured, quiet: 0, join: reason } : { role: 'standby', pressured, quiet: 0 };
    }
  }
}
