/**
 * The batch state machine as pure functions over records. Every BatchStore adapter loads the batch,
 * applies one of these inside its own transaction (or lock) and stores the result, so the trigger rule
 * ("the call that makes succeeded + failed == expected sees the phase completed, and only that call")
 * lives in one place and the contract suite holds every adapter to it.
 */
import { badRequest, notFound } from '../errors';
import type { Batch, BatchSummary, NewBatch, PhaseState, UnitOutcome, UnitResult } from './types';

/**
 * Upper bound on a batch's stored state. Firestore keeps a batch in one document (1 MiB), which holds the
 * unit list plus one outcome map per phase; refusing oversized batches at submission, on every adapter,
 * beats failing halfway through the run when the maps fill up.
 */
export const MAX_BATCH_STATE_BYTES = 800_000;

/** Firestore's size of the unit list plus one fully recorded outcome map per phase, rounded up. */
function estimatedStateBytes(units: readonly string[], phases: readonly string[]): number {
  // Per unit: its UTF-8 bytes + 1 in the list; in each phase map the key (bytes + 1) and "succeeded" (10).
  const perUnit = units.reduce((n, u) => n + Buffer.byteLength(u, 'utf8') + 1, 0);
  return perUnit + phases.length * (perUnit + units.length * 10);
}

function assertDistinctNonEmpty(values: readonly string[], what: string, batchId: string): void {
  if (values.length === 0)
    throw badRequest(`Batch ${batchId} declares no ${what}s`, { details: { batchId } });
  const seen = new Set<string>();
  for (const v of values) {
    if (v.length === 0) throw badRequest(`Batch ${batchId} has an empty ${what}`, { details: { batchId } });
    if (seen.has(v)) {
      throw badRequest(`Batch ${batchId} declares ${what} ${v} twice`, { details: { batchId, [what]: v } });
    }
    seen.add(v);
  }
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
};

/**
 * A new batch, or the existing one when the same id is submitted again with the same units and phases
 * (a redelivered submission). Different units or phases under the same id are refused: the submitter
 * reused an id, and silently keeping either version would lose work. The port calls this a 409; it is a
 * `bad_request` (400, not retryable) because the error catalogue has no non-retryable conflict and
 * `lease_conflict` would invite a retry that can never succeed.
 */
export function createBatch(existing: Batch | undefined, input: NewBatch, now: number): Batch {
  if (input.id.length === 0) throw badRequest('A batch needs an id');
  assertDistinctNonEmpty(input.units, 'unit', input.id);
  assertDistinctNonEmpty(input.phases, 'phase', input.id);
  if (existing) {
    if (sameSet(existing.units, input.units) && sameSet(existing.phases, input.phases)) return existing;
    throw badRequest(`Batch ${input.id} already exists with different units or phases`, {
      details: { batchId: input.id },
    });
  }
  if (estimatedStateBytes(input.units, input.phases) > MAX_BATCH_STATE_BYTES) {
    throw badRequest(`Batch ${input.id} is too large: split it into smaller batches`, {
      details: { batchId: input.id, units: input.units.length, phases: input.phases.length },
    });
  }
  const phaseStates: Record<string, PhaseState> = {};
  for (const phase of input.phases) {
    phaseStates[phase] = { phase, expected: input.units.length, units: {}, succeeded: 0, failed: 0 };
  }
  return {
    id: input.id,
    units: [...input.units],
    phases: [...input.phases],
    status: 'open',
    deadline: input.deadline,
    createdAt: now,
    updatedAt: now,
    ...(input.correlationId !== undefined ? { correlationId: input.correlationId } : {}),
    phaseStates,
  };
}

function requireBatch(batch: Batch | undefined, batchId: string): Batch {
  if (!batch) throw notFound(`Batch ${batchId} does not exist`, { details: { batchId } });
  return batch;
}

/**
 * Records one unit's outcome of one phase. A success replaces an earlier failure (a retried document
 * that now succeeded); a failure never replaces a success, and the same outcome again is a no-op (`next`
 * undefined: nothing to write). On a completed batch, a change revises its summary in the same write. The phase is triggered when succeeded + failed first reaches expected: `triggeredAt` is set
 * in the same write, so a concurrent or redelivered call that loses the race sees it set and does not
 * trigger again.
 */
export function recordUnitOutcome(
  batch: Batch | undefined,
  batchId: string,
  phase: string,
  unit: string,
  outcome: UnitOutcome,
  now: number,
): { result: UnitResult; next?: Batch } {
  const b = requireBatch(batch, batchId);
  const state = b.phaseStates[phase];
  if (!state) {
    throw badRequest(`Batch ${batchId} has no phase ${phase}`, { details: { batchId, phase } });
  }
  if (!b.units.includes(unit)) {
    throw badRequest(`Batch ${batchId} has no unit ${unit}`, { details: { batchId, phase, unit } });
  }
  if (state.units[unit] === outcome) return { result: { batch: b } };
  // A success is final for a unit and phase: a `failed` arriving after it is a stale, reordered or
  // redelivered event (at-least-once delivery), not news.
  if (state.units[unit] === 'succeeded') return { result: { batch: b } };

  const units = { ...state.units, [unit]: outcome };
  // From the stored counts rather than a scan of every unit on each record (18% of recording a 4,000-unit
  // batch in the SQLite store). Here the unit had no outcome yet, or `failed`.
  const wasFailed = state.units[unit] === 'failed';
  const succeeded = state.succeeded + (outcome === 'succeeded' ? 1 : 0);
  const failed = state.failed + (outcome === 'failed' ? 1 : 0) - (wasFailed ? 1 : 0);
  const completesNow = state.triggeredAt === undefined && succeeded + failed === state.expected;
  const nextState: PhaseState = {
    ...state,
    units,
    succeeded,
    failed,
    ...(completesNow ? { triggeredAt: now } : {}),
  };
  let next: Batch = { ...b, phaseStates: { ...b.phaseStates, [phase]: nextState }, updatedAt: now };
  const nextPhase = b.phases[b.phases.indexOf(phase) + 1];
  // A unit that succeeds a phase after the phase completed (a replay) missed the next phase's trigger.
  const lateSuccess =
    state.triggeredAt !== undefined && outcome === 'succeeded' && nextPhase !== undefined
      ? { lateSuccess: { nextPhase } }
      : {};
  if (b.status === 'completed' && b.summary) {
    // A late outcome (a replayed unit) after the batch completed: its summary must say what is true now.
    const summary = summarizeBatch(next, b.summary.durationMs);
    if (summary.failed !== b.summary.failed || summary.failedUnits.join() !== b.summary.failedUnits.join()) {
      next = { ...next, summary, summaryRevisedAt: now };
      return {
        result: { batch: next, summaryRevised: { previous: b.summary, summary }, ...lateSuccess },
        next,
      };
    }
  }
  if (!completesNow) return { result: { batch: next, ...lateSuccess }, next };
  // The units that failed this phase take no part in the later ones: they are recorded failed there in the
  // same write. A later phase that every unit reaches as failed is complete at once, and so on down the
  // chain; `nextPhase` is the one left to trigger (for the units that succeeded), if any.
  const failedHere = b.units.filter((u) => units[u] === 'failed');
  let toTrigger: string | undefined;
  for (const later of b.phases.slice(b.phases.indexOf(phase) + 1)) {
    const laterState = next.phaseStates[later];
    if (!laterState) continue;
    const carried: Record<string, UnitOutcome> = { ...laterState.units };
    for (const u of failedHere) carried[u] ??= 'failed';
    const counts = countOutcomes(carried);
    const complete =
      laterState.triggeredAt === undefined && counts.succeeded + counts.failed === laterState.expected;
    next = {
      ...next,
      phaseStates: {
        ...next.phaseStates,
        [later]: { ...laterState, units: carried, ...counts, ...(complete ? { triggeredAt: now } : {}) },
      },
    };
    if (!complete) {
      toTrigger = later;
      break;
    }
  }
  return {
    result: {
      batch: next,
      phaseCompleted: phase,
      ...(toTrigger !== undefined ? { nextPhase: toTrigger } : {}),
    },
    next,
  };
}

function countOutcomes(units: Readonly<Record<string, UnitOutcome>>): { succeeded: number; failed: number } {
  const outcomes = Object.values(units);
  const succeeded = outcomes.filter((o) => o === 'succeeded').length;
  return { succeeded, failed: outcomes.length - succeeded };
}

/** The summary of a batch as its phase states stand: a unit failed if it failed any phase. */
export function summarizeBatch(batch: Batch, durationMs: number): BatchSummary {
  const failedUnits = batch.units.filter((u) =>
    batch.phases.some((p) => batch.phaseStates[p]?.units[u] === 'failed'),
  );
  return {
    units: batch.units.length,
    succeeded: batch.units.length - failedUnits.length,
    failed: failedUnits.length,
    failedUnits,
    durationMs,
  };
}

/**
 * Marks the batch completed with its summary. Completing an already completed batch keeps the first
 * summary and `completedAt` (a redelivered trigger must not rewrite history); `next` is then undefined.
 */
export function completeBatch(
  batch: Batch | undefined,
  batchId: string,
  summary: BatchSummary,
  now: number,
): { batch: Batch; next?: Batch } {
  const b = requireBatch(batch, batchId);
  if (b.status === 'completed') return { batch: b };
  const next: Batch = { ...b, status: 'completed', summary, completedAt: now, updatedAt: now };
  return { batch: next, next };
}

/** Open, past its deadline and not alerted yet: what the watchdog should alert on. */
export function isOverdue(batch: Batch, now: number): boolean {
  return batch.status === 'open' && batch.deadline < now && batch.overdueAlertedAt === undefined;
}

/**
 * Claims the one overdue alert for a batch. Refused (`next` undefined) when it was already alerted, and
 * also when the batch is no longer overdue (it completed between the watchdog's list and this call), so
 * a `true` from `markOverdueAlerted` always means "send the alert now".
 */
export function markOverdue(batch: Batch | undefined, batchId: string, now: number): { next?: Batch } {
  const b = requireBatch(batch, batchId);
  if (!isOverdue(b, now)) return {};
  return { next: { ...b, overdueAlertedAt: now, updatedAt: now } };
}

/** Orders overdue batches for the watchdog: earliest deadline first, then id, the same on every adapter. */
export function byDeadline(a: Batch, b: Batch): number {
  return a.deadline - b.deadline || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
