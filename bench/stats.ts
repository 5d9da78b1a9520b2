/** Repetitions, medians and spreads. */

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max - min) / median, in [0, ∞): the noise band of the figure. */
  readonly spread: number;
  readonly values: readonly number[];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const m = median(values);
  const min = values.length ? Math.min(...values) : Number.NaN;
  const max = values.length ? Math.max(...values) : Number.NaN;
  return { median: m, min, max, spread: m > 0 ? (max - min) / m : 0, values: [...values] };
}

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Wall time of `fn` in milliseconds. */
export async function timeMs(fn: () => unknown): Promise<number> {
  const t0 = nowMs();
  await fn();
  return nowMs() - t0;
}

export interface Measured {
  readonly ms: number;
  /** CPU time of this process during the run. */
  readonly clientCpuMs: number;
  /** CPU time of the Neo4j server during the run, when it can be read. */
  readonly serverCpuMs: number | undefined;
}

/** Wall time, this process's CPU time and (if `serverCpu` is given) the server's CPU time of `fn`. */
export async function measure(fn: () => unknown, serverCpu?: () => number): Promise<Measured> {
  const s0 = serverCpu?.();
  const c0 = process.cpuUsage();
  const ms = await timeMs(fn);
  const c = process.cpuUsage(c0);
  const s1 = serverCpu?.();
  return {
    ms,
    clientCpuMs: (c.user + c.system) / 1000,
    serverCpuMs: s0 !== undefined && s1 !== undefined ? s1 - s0 : undefined,
  };
}

export interface RepeatOptions {
  readonly warmup: number;
  readonly reps: number;
  /** Untimed, before every run (warm-up included): e.g. cleaning the database. */
  readonly before?: () => Promise<void> | void;
  /** Untimed, after every run. */
  readonly after?: () => Promise<void> | void;
}

/** Runs `fn` warmup + reps times; returns the wall times (ms) of the timed repetitions. */
export async function repeat(options: RepeatOptions, fn: (rep: number) => unknown): Promise<number[]> {
  const times: number[] = [];
  for (let i = -options.warmup; i < options.reps; i++) {
    await options.before?.();
    const ms = await timeMs(() => fn(i));
    await options.after?.();
    if (i >= 0) times.push(ms);
  }
  return times;
}

/**
 * Runs the sides of one repetition one after the other, starting with side `rep % sides.length`, so that
 * background load and Neo4j's own housekeeping hit every side alike over the repetitions.
 */
export async function runRotated(sides: readonly (() => Promise<unknown>)[], rep: number): Promise<void> {
  for (let k = 0; k < sides.length; k++) await sides[(rep + k) % sides.length]?.();
}

/** Runs `fn` over `items` with at most `concurrency` calls in flight, in order of the items. */
export async function forEachConcurrent<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}

export const round = (x: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
