/**
 * Test doubles for the time ports, for every suite that exercises retries, breakers or caches: a manual
 * clock whose `sleep` records the requested delay and advances the clock instead of waiting.
 */
import type { Clock, Random, Sleep } from '../ports/clock';

export interface FakeTime {
  readonly clock: Clock;
  /** Records `ms`, advances the clock by it, resolves at once (rejects if the signal is already aborted). */
  readonly sleep: Sleep;
  /** Every delay passed to `sleep`, in order. */
  readonly sleeps: readonly number[];
  advance(ms: number): void;
  set(now: number): void;
}

export function makeFakeTime(start = 0): FakeTime {
  let now = start;
  const sleeps: number[] = [];
  return {
    clock: () => now,
    sleep: (ms, signal) => {
      if (signal?.aborted)
        return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
    sleeps,
    advance: (ms) => {
      now += ms;
    },
    set: (value) => {
      now = value;
    },
  };
}

/** Returns the given values in turn, repeating the last one. */
export function fixedRandom(...values: readonly number[]): Random {
  if (values.length === 0) throw new RangeError('fixedRandom needs at least one value');
  let i = 0;
  return () => {
    const value = values[Math.min(i, values.length - 1)] as number;
    i++;
    return value;
  };
}
