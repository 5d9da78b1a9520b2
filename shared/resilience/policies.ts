/**
 * Retries and circuit breakers with injected time.
 *
 * Why not cockatiel (the design asks for a maintained library "where it fits"; measured, see
 * docs/architecture.md "Resilience"): cockatiel 4 is ESM-only, yet loads under Node 24 (require(esm)), with
 * `module: nodenext`, and in jest with a transformIgnorePatterns entry. It does not fit the injected-time
 * rule: RetryPolicy sleeps with its own setTimeout, its jitter generators call Math.random, and
 * CircuitBreakerPolicy times half-open with Date.now(). So this file keeps cockatiel's model and names
 * (execute(fn, signal), onRetry/onGiveUp/onBreak/onReset/onHalfOpen, a consecutive-failure breaker with a
 * single half-open probe, wrap(outer, inner)) in two small, fully bounded state machines; swapping a
 * library in later changes this file only.
 *
 * Choices:
 * - Backoff is exponential with FULL jitter: delay = floor(random() * min(maxDelayMs, initialDelayMs *
 *   2^(attempt-1))). It spreads synchronized clients best for the least state, and with an injected
 *   `random` the sequence is exact in tests.
 * - A failure that carries a retry hint (Retry-After, GraphmillError.retryAfterSeconds) waits at least that
 *   long, never more than maxDelayMs.
 * - Every retry loop is bounded twice: by maxAttempts and by maxTotalMs (it stops when the next delay would
 *   end past maxTotalMs after the first attempt started). Both must be finite.
 * - Composition is retry OUTSIDE, breaker INSIDE: `wrap(retry, breaker)`. Every attempt is a real call the
 *   breaker must count, and once the circuit opens the next attempt fails fast with a circuit-open error
 *   that the retry does not retry (it stays `retryable` for the caller: HTTP 503 + Retry-After, Pub/Sub
 *   redelivery). The other order would count a whole retry sequence as one failure and keep hammering a
 *   dependency that is down.
 */
import { dependencyUnavailable, type GraphmillError } from '../errors';
import type { Logger } from '../logging';
import { errorCodeOf, isRetryable as defaultIsRetryable, retryAfterMs } from './classify';
import type { Clock, Random, Sleep } from '../ports/clock';

/** The one interface every policy shares: run `fn` under the policy. `fn` receives the caller's signal. */
export interface Policy {
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T>;
}

export type Listener<E> = (event: E) => void;
/** Subscribe; the returned function unsubscribes. */
export type Subscribe<E> = (listener: Listener<E>) => () => void;

function emitter<E>(): { subscribe: Subscribe<E>; emit: (event: E) => void } {
  const listeners = new Set<Listener<E>>();
  return {
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit: (event) => {
      for (const listener of listeners) listener(event);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Retry

export interface RetryTuning {
  /** Total calls including the first; 1 means no retry. */
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  /** Cap on one delay (also caps a server's Retry-After). */
  readonly maxDelayMs: number;
  /** Cap on the whole execution: no retry is scheduled whose delay would end past this, from the first call. */
  readonly maxTotalMs: number;
}

export interface RetryOptions extends RetryTuning {
  /** Names the dependency in logs (`firestore`, `slack`, ...). */
  readonly name: string;
  readonly sleep: Sleep;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger?: Logger;
  /** Which failures to retry; defaults to `isRetryable` from classify.ts. */
  readonly isRetryable?: (err: unknown) => boolean;
}

export interface RetryEvent {
  readonly name: string;
  /** The attempt that just failed (1-based). */
  readonly attempt: number;
  readonly delayMs: number;
  readonly errorCode: string;
  readonly error: unknown;
}

export interface GiveUpEvent {
  readonly name: string;
  readonly attempt: number;
  readonly elapsedMs: number;
  readonly reason: 'attempts_exhausted' | 'time_exhausted';
  readonly errorCode: string;
  readonly error: unknown;
}

export interface RetryStats {
  /** Retries scheduled (not counting first attempts). */
  readonly retries: number;
  /** Executions that failed with a retryable error after the attempt or time budget ran out. */
  readonly giveUps: number;
  /** Executions that eventually returned a value. */
  readonly successes: number;
}

export interface RetryPolicy extends Policy {
  readonly name: string;
  readonly onRetry: Subscribe<RetryEvent>;
  readonly onGiveUp: Subscribe<GiveUpEvent>;
  stats(): RetryStats;
}

/** The exponential envelope for `attempt` (1-based), before jitter. */
export function backoffCeilingMs(tuning: RetryTuning, attempt: number): number {
  return Math.min(tuning.maxDelayMs, tuning.initialDelayMs * 2 ** (attempt - 1));
}

export function makeRetry(options: RetryOptions): RetryPolicy {
  validateRetryTuning(options);
  const { name, sleep, clock, random } = options;
  const shouldRetry = options.isRetryable ?? defaultIsRetryable;
  const retried = emitter<RetryEvent>();
  const gaveUp = emitter<GiveUpEvent>();
  let retries = 0;
  let giveUps = 0;
  let successes = 0;

  if (options.logger) {
    const logger = options.logger;
    retried.subscribe(({ error: _error, ...fields }) =>
      logger.warn(`${name}: retrying after a failure`, fields),
    );
    gaveUp.subscribe(({ error: _error, ...fields }) => logger.error(`${name}: giving up`, fields));
  }

  const delayFor = (attempt: number, err: unknown): number => {
    const jittered = Math.floor(random() * backoffCeilingMs(options, attempt));
    const hinted = retryAfterMs(err, clock());
    return Math.min(options.maxDelayMs, Math.max(jittered, hinted ?? 0));
  };

  return {
    name,
    onRetry: retried.subscribe,
    onGiveUp: gaveUp.subscribe,
    stats: () => ({ retries, giveUps, successes }),
    async execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
      const effectiveSignal = signal ?? new AbortController().signal;
      const started = clock();
      for (let attempt = 1; ; attempt++) {
        effectiveSignal.throwIfAborted();
        try {
          const value = await fn(effectiveSignal);
          successes++;
          return value;
        } catch (err) {
          // Cancelled by the caller, permanent, or an open circuit (see the header): no retry, no give-up.
          if (effectiveSignal.aborted || isCircuitOpenError(err) || !shouldRetry(err)) throw err;
          const errorCode = errorCodeOf(err);
          const elapsedMs = clock() - started;
          if (attempt >= options.maxAttempts) {
            giveUps++;
            gaveUp.emit({ name, attempt, elapsedMs, reason: 'attempts_exhausted', errorCode, error: err });
            throw err;
          }
          const delayMs = delayFor(attempt, err);
          if (elapsedMs + delayMs > options.maxTotalMs) {
            giveUps++;
            gaveUp.emit({ name, attempt, elapsedMs, reason: 'time_exhausted', errorCode, error: err });
            throw err;
          }
          retries++;
          retried.emit({ name, attempt, delayMs, errorCode, error: err });
          await sleep(delayMs, effectiveSignal);
        }
      }
    },
  };
}

function validateRetryTuning(t: RetryTuning): void {
  const bad = (what: string): never => {
    throw new RangeError(`retry policy: ${what}`);
  };
  if (!Number.isInteger(t.maxAttempts) || t.maxAttempts < 1)
    bad(`maxAttempts must be an integer >= 1, got ${t.maxAttempts}`);
  if (!Number.isFinite(t.maxTotalMs) || t.maxTotalMs < 0)
    bad(`maxTotalMs must be finite and >= 0, got ${t.maxTotalMs}`);
  if (!Number.isFinite(t.initialDelayMs) || t.initialDelayMs < 0)
    bad(`initialDelayMs must be >= 0, got ${t.initialDelayMs}`);
  if (!Number.isFinite(t.maxDelayMs) || t.maxDelayMs < t.initialDelayMs) {
    bad(`maxDelayMs must be finite and >= initialDelayMs, got ${t.maxDelayMs}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Circuit breaker

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerTuning {
  /** Consecutive retryable failures that open the circuit. Default 5. */
  readonly failureThreshold?: number;
  /** How long the circuit stays open before one probe call is let through. Default 30 s. */
  readonly halfOpenAfterMs?: number;
}

export interface BreakerOptions extends BreakerTuning {
  readonly name: string;
  readonly clock: Clock;
  readonly logger?: Logger;
  /** Which failures count toward opening; defaults to `isRetryable` (a 400 is the caller's fault). */
  readonly isRetryable?: (err: unknown) => boolean;
}

export interface BreakEvent {
  readonly name: string;
  readonly failures: number;
  readonly halfOpenAfterMs: number;
  readonly errorCode: string;
  readonly error: unknown;
}
export interface BreakerTransition {
  readonly name: string;
}

export interface CircuitBreaker extends Policy {
  readonly name: string;
  /** `half-open` also when the open period has elapsed and the next call will be the probe. */
  state(): BreakerState;
  readonly onBreak: Subscribe<BreakEvent>;
  readonly onHalfOpen: Subscribe<BreakerTransition>;
  readonly onReset: Subscribe<BreakerTransition>;
}

const CIRCUIT_OPEN = Symbol('graphmill.circuitOpen');

/** The fail-fast error of an open circuit (a retryable `dependency_unavailable` with retryAfterSeconds). */
export function isCircuitOpenError(err: unknown): err is GraphmillError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[CIRCUIT_OPEN] === true;
}

function circuitOpenError(name: string, retryAfterMsLeft: number): GraphmillError {
  const err = dependencyUnavailable(`${name} circuit is open`, {
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMsLeft / 1000)),
    details: { dependency: name, circuit: 'open' },
  });
  Object.defineProperty(err, CIRCUIT_OPEN, { value: true });
  return err;
}

type Internal =
  | { kind: 'closed'; failures: number }
  | { kind: 'open'; openedAt: number }
  | { kind: 'half-open'; probeStartedAt: number };

/**
 * Closed -> open after `failureThreshold` consecutive retryable failures -> after `halfOpenAfterMs` (on the
 * injected clock) one probe call goes through -> closed if it succeeds (or fails with a permanent error:
 * the dependency answered), open again if it fails retryably. While open, and while the probe is in
 * flight, calls fail fast without calling `fn`. Permanent failures in the closed state neither count nor
 * reset the streak (cockatiel's semantics for unhandled errors).
 */
export function makeBreaker(options: BreakerOptions): CircuitBreaker {
  const { name, clock } = options;
  const failureThreshold = options.failureThreshold ?? 5;
  const halfOpenAfterMs = options.halfOpenAfterMs ?? 30_000;
  if (!Number.isInteger(failureThreshold) || failureThreshold < 1) {
    throw new RangeError(
      `circuit breaker: failureThreshold must be an integer >= 1, got ${failureThreshold}`,
    );
  }
  if (!Number.isFinite(halfOpenAfterMs) || halfOpenAfterMs < 0) {
    throw new RangeError(`circuit breaker: halfOpenAfterMs must be finite and >= 0, got ${halfOpenAfterMs}`);
  }
  const countsAsFailure = options.isRetryable ?? defaultIsRetryable;
  const broke = emitter<BreakEvent>();
  const halfOpened = emitter<BreakerTransition>();
  const reset = emitter<BreakerTransition>();
  let state: Internal = { kind: 'closed', failures: 0 };

  if (options.logger) {
    const logger = options.logger;
    broke.subscribe(({ error: _error, ...fields }) => logger.error(`${name}: circuit opened`, fields));
    halfOpened.subscribe(() => logger.notice(`${name}: circuit half-open, probing`, { name }));
    reset.subscribe(() => logger.notice(`${name}: circuit closed`, { name }));
  }

  const open = (failures: number, err: unknown): void => {
    state = { kind: 'open', openedAt: clock() };
    broke.emit({ name, failures, halfOpenAfterMs, errorCode: errorCodeOf(err), error: err });
  };
  const close = (): void => {
    state = { kind: 'closed', failures: 0 };
    reset.emit({ name });
  };

  return {
    name,
    onBreak: broke.subscribe,
    onHalfOpen: halfOpened.subscribe,
    onReset: reset.subscribe,
    state: () => {
      if (state.kind === 'open' && clock() - state.openedAt >= halfOpenAfterMs) return 'half-open';
      return state.kind;
    },
    async execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
      const effectiveSignal = signal ?? new AbortController().signal;
      const now = clock();
      let probing = false;
      if (state.kind === 'open') {
        const left = halfOpenAfterMs - (now - state.openedAt);
        if (left > 0) throw circuitOpenError(name, left);
        state = { kind: 'half-open', probeStartedAt: now };
        probing = true;
        halfOpened.emit({ name });
      } else if (state.kind === 'half-open') {
        // One probe at a time. A probe that never settles must not hold the circuit forever: after another
        // open period, let a new probe through.
        if (now - state.probeStartedAt < halfOpenAfterMs) throw circuitOpenError(name, 1000);
        state = { kind: 'half-open', probeStartedAt: now };
        probing = true;
      }
      const probe = state;

      let value: T;
      try {
        value = await fn(effectiveSignal);
      } catch (err) {
        const counts = countsAsFailure(err);
        if (probing) {
          if (state !== probe) throw err; // a newer probe owns the state
          if (counts) open(1, err);
          else close();
        } else if (counts && state.kind === 'closed') {
          const failures = state.failures + 1;
          if (failures >= failureThreshold) open(failures, err);
          else state = { kind: 'closed', failures };
        }
        throw err;
      }
      if (probing) {
        if (state === probe) close();
      } else if (state.kind === 'closed') {
        state = { kind: 'closed', failures: 0 };
      }
      return value;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Composition and presets

/**
 * Nests policies, first outermost: `wrap(retry, breaker).execute(fn)` runs
 * `retry.execute(s => breaker.execute(fn, s))`. Use that order (see the header).
 */
export function wrap(...policies: readonly Policy[]): Policy {
  return {
    execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
      const run = policies.reduceRight<(s: AbortSignal) => Promise<T>>(
        (inner, policy) => (s) => policy.execute(inner, s),
        fn,
      );
      return run(signal ?? new AbortController().signal);
    },
  };
}

export interface ResiliencePreset {
  readonly retry: RetryTuning;
  /** Absent where a breaker would not help (one-off connects, a cache that serves stale values). */
  readonly breaker?: Required<BreakerTuning>;
}

/**
 * Production tuning per dependency. Totals stay well inside Cloud Run request timeouts (HTTP functions
 * default to 60 s) so a retrying dependency cannot turn into a function timeout.
 */
export const RESILIENCE_PRESETS = {
  /**
   * Status, leases, completion records. Short delays: Firestore blips (ABORTED contention, UNAVAILABLE)
   * clear in well under a second. The breaker is the design's "re-check after 30 s".
   */
  firestore: {
    retry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 2_000, maxTotalMs: 10_000 },
    breaker: { failureThreshold: 5, halfOpenAfterMs: 30_000 },
  },
  /**
   * Completion analytics (insert/MERGE). Off the critical path and rate-limited (RESOURCE_EXHAUSTED / 403
   * rateLimitExceeded come with long recovery), so fewer, longer waits.
   */
  bigquery: {
    retry: { maxAttempts: 4, initialDelayMs: 500, maxDelayMs: 8_000, maxTotalMs: 20_000 },
    breaker: { failureThreshold: 5, halfOpenAfterMs: 60_000 },
  },
  /**
   * Alert webhook. Slack answers 429 with Retry-After (about 1 message/s per webhook); maxDelayMs caps
   * how long an alert may wait. Alerts never block the main flow, and the breaker stops piling alerts onto
   * a Slack outage.
   */
  slack: {
    retry: { maxAttempts: 4, initialDelayMs: 1_000, maxDelayMs: 10_000, maxTotalMs: 30_000 },
    breaker: { failureThreshold: 3, halfOpenAfterMs: 60_000 },
  },
  /**
   * Secret reads: on the cold-start path, and the cache in front serves a stale value while Secret
   * Manager is down, so fail quickly instead of breaking.
   */
  secretManager: {
    retry: { maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 2_000, maxTotalMs: 5_000 },
  },
  /**
   * First connection of an instance (verifyConnectivity). Generous: an AuraDB instance resuming from pause
   * or a cold database takes tens of seconds. Not for queries: executeWrite already retries transient
   * errors itself. No breaker: one connect per instance.
   */
  neo4jConnect: {
    retry: { maxAttempts: 8, initialDelayMs: 500, maxDelayMs: 10_000, maxTotalMs: 45_000 },
  },
} as const satisfies Readonly<Record<string, ResiliencePreset>>;
export type ResiliencePresetName = keyof typeof RESILIENCE_PRESETS;

export interface ResilienceDeps {
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly random: Random;
  readonly logger?: Logger;
}

export interface ResilientPolicy extends Policy {
  readonly retry: RetryPolicy;
  readonly breaker: CircuitBreaker | undefined;
}

/** Builds `wrap(retry, breaker)` (or the retry alone) for one dependency from a preset. */
export function makeResilientPolicy(
  name: string,
  preset: ResiliencePreset,
  deps: ResilienceDeps,
): ResilientPolicy {
  const logger = deps.logger === undefined ? {} : { logger: deps.logger };
  const retry = makeRetry({
    name,
    ...preset.retry,
    clock: deps.clock,
    sleep: deps.sleep,
    random: deps.random,
    ...logger,
  });
  const breaker =
    preset.breaker === undefined
      ? undefined
      : makeBreaker({ name, ...preset.breaker, clock: deps.clock, ...logger });
  const composed = breaker === undefined ? retry : wrap(retry, breaker);
  return { retry, breaker, execute: (fn, signal) => composed.execute(fn, signal) };
}
