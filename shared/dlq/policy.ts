/**
 * How a failed operation is retried from the dead letters. Pure functions of (entry, error, now): the
 * store persists what they return.
 *
 * - connection errors (a dependency unavailable): exponential backoff, 1 min doubling to a 6 h cap;
 * - timeouts: linear backoff, 5 min more each attempt;
 * - everything permanent (validation, unsupported content, forbidden source, bugs): manual review.
 * An entry out of attempts also waits for manual review; the first time an entry reaches manual review
 * it is alerted, once.
 */
import { createHash } from 'node:crypto';
import type { GraphmillError } from '../errors';
import type { DeadLetter, DeadLetterOperation, ErrorClass, RetryStrategy } from './types';

export interface DeadLetterSchedule {
  readonly maxAttempts: number;
  readonly exponentialBaseMs: number;
  readonly exponentialCapMs: number;
  readonly linearStepMs: number;
  /** History entries kept per dead letter (the oldest are dropped). */
  readonly historyLimit: number;
}

export const DEFAULT_SCHEDULE: DeadLetterSchedule = {
  maxAttempts: 8,
  exponentialBaseMs: 60_000,
  exponentialCapMs: 6 * 3_600_000,
  linearStepMs: 5 * 60_000,
  historyLimit: 20,
};

export function errorClassOf(e: GraphmillError): ErrorClass {
  if (e.code === 'dependency_timeout') return 'timeout';
  if (e.retryable) return 'connection';
  return 'permanent';
}

export function strategyFor(errorClass: ErrorClass): RetryStrategy {
  switch (errorClass) {
    case 'connection':
      return 'exponential';
    case 'timeout':
      return 'linear';
    case 'permanent':
      return 'manual';
  }
}

/** When the next replay is due after `attempts` failed attempts; undefined for manual review. */
export function nextAttemptAt(
  strategy: RetryStrategy,
  attempts: number,
  now: number,
  schedule: DeadLetterSchedule = DEFAULT_SCHEDULE,
): number | undefined {
  switch (strategy) {
    case 'exponential':
      return (
        now + Math.min(schedule.exponentialCapMs, schedule.exponentialBaseMs * 2 ** Math.max(0, attempts - 1))
      );
    case 'linear':
      return now + schedule.linearStepMs * Math.max(1, attempts);
    case 'manual':
      return undefined;
  }
}

/** One entry per operation: a document and action, or an undecodable event (by its payload). */
export function deadLetterIdFor(op: DeadLetterOperation): string {
  const key =
    op.kind === 'document'
      ? ['document', op.batchId ?? '', op.documentId, op.action].join('\u0000')
      : ['event', op.topic, op.payload].join('\u0000');
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

/** The entry after one more failure of `op` (a new entry for a first failure). */
export function recordFailure(
  existing: DeadLetter | undefined,
  op: DeadLetterOperation,
  error: GraphmillError,
  now: number,
  schedule: DeadLetterSchedule = DEFAULT_SCHEDULE,
): DeadLetter {
  const errorClass = errorClassOf(error);
  const attempts = (existing?.attempts ?? 0) + 1;
  const exhausted = attempts >= schedule.maxAttempts;
  const strategy = strategyFor(errorClass);
  const history = [
    ...(existing?.history ?? []),
    { at: now, code: error.code, message: error.message, retryable: error.retryable },
  ].slice(-schedule.historyLimit);
  const due =
    strategy === 'manual' || exhausted ? undefined : nextAttemptAt(strategy, attempts, now, schedule);
  const {
    nextAttemptAt: _n,
    leaseOwner: _o,
    leaseExpiresAt: _l,
    resolvedAt: _r,
    resolution: _s,
    alertedAt,
    ...rest
  } = existing ?? ({} as Partial<DeadLetter>);
  return {
    ...rest,
    // A resolved entry that fails again is a new incident: it may alert again.
    ...(alertedAt !== undefined && existing?.status !== 'resolved' ? { alertedAt } : {}),
    id: existing?.id ?? deadLetterIdFor(op),
    operation: op,
    errorClass,
    strategy,
    status: due === undefined ? 'manual_review' : 'pending',
    attempts,
    maxAttempts: schedule.maxAttempts,
    ...(due !== undefined ? { nextAttemptAt: due } : {}),
    history,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
}

/** An entry that has reached manual review and has not been alerted yet. */
export const needsAlert = (entry: DeadLetter): boolean =>
  entry.status === 'manual_review' && entry.alertedAt === undefined;

export function markAlerted(entry: DeadLetter, now: number): DeadLetter {
  return { ...entry, alertedAt: now, updatedAt: now };
}

export function markResolved(entry: DeadLetter, now: number, resolution: string): DeadLetter {
  const { nextAttemptAt: _n, leaseOwner: _o, leaseExpiresAt: _l, ...rest } = entry;
  return { ...rest, status: 'resolved', resolvedAt: now, resolution, updatedAt: now };
}

/** Puts a manual-review entry back in the queue, due now (an operator fixed the cause). */
export function requeue(entry: DeadLetter, now: number): DeadLetter {
  const { leaseOwner: _o, leaseExpiresAt: _l, ...rest } = entry;
  return { ...rest, status: 'pending', nextAttemptAt: now, updatedAt: now };
}
