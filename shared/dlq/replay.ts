/** Writing dead letters, and re-driving the due ones through the same pipeline. */
import { randomUUID } from 'node:crypto';
import type { Alerter } from '../ports/alerter';
import { notFound, toGraphmillError, type GraphmillError } from '../errors';
import type { Logger } from '../logging';
import type { Clock } from '../ports/clock';
import {
  DEFAULT_SCHEDULE,
  deadLetterIdFor,
  markAlerted,
  markResolved,
  needsAlert,
  recordFailure,
  type DeadLetterSchedule,
} from './policy';
import type { DeadLetter, DeadLetterOperation } from './types';
import type { DeadLetterStore } from '../ports/dead-letter-store';

export interface DeadLetterDeps {
  readonly store: DeadLetterStore;
  readonly alerter: Alerter;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly functionName: string;
  readonly schedule?: DeadLetterSchedule;
}

/** Records one more failure of `op` and alerts, once, when the entry needs a person. */
export async function writeDeadLetter(
  deps: DeadLetterDeps,
  op: DeadLetterOperation,
  error: GraphmillError,
): Promise<DeadLetter> {
  const now = deps.clock();
  const existing = await deps.store.get(deadLetterIdFor(op));
  let entry = recordFailure(existing, op, error, now, deps.schedule ?? DEFAULT_SCHEDULE);
  deps.logger.warn('dead letter written', {
    deadLetterId: entry.id,
    ...opFields(op),
    code: error.code,
    errorClass: entry.errorClass,
    attempts: entry.attempts,
    status: entry.status,
    ...(entry.nextAttemptAt !== undefined
      ? { nextAttemptAt: new Date(entry.nextAttemptAt).toISOString() }
      : {}),
  });
  if (needsAlert(entry)) {
    entry = markAlerted(entry, now);
    await deps.store.put(entry);
    await deps.alerter.send({
      severity: 'error',
      title:
        entry.attempts >= entry.maxAttempts
          ? `Dead letter out of attempts (${entry.attempts}): manual review needed`
          : 'Dead letter needs manual review',
      functionName: deps.functionName,
      errorType: error.code,
      message: error.message,
      ...(error.stack !== undefined ? { stack: error.stack } : {}),
      ...opAlertFields(op),
      dedupeKey: `dead-letter:${entry.id}:${entry.attempts}`,
    });
    return entry;
  }
  await deps.store.put(entry);
  return entry;
}

export interface ReplayDeps extends DeadLetterDeps {
  /** Re-drives one operation through the pipeline; throws when it fails again. */
  readonly run: (op: DeadLetterOperation) => Promise<void>;
  readonly limit?: number;
  readonly leaseMs?: number;
  readonly owner?: string;
}

export interface ReplaySummary {
  readonly claimed: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly manualReview: number;
  readonly results: readonly {
    id: string;
    outcome: 'succeeded' | 'pending' | 'manual_review';
    code?: string;
  }[];
}

/** Claims the due entries (a lease, so two schedulers never replay one entry twice) and re-drives them. */
export async function replayDue(deps: ReplayDeps): Promise<ReplaySummary> {
  const owner = deps.owner ?? randomUUID();
  const claimed = await deps.store.claimDue(
    deps.clock(),
    deps.limit ?? 50,
    owner,
    deps.leaseMs ?? 15 * 60_000,
  );
  const results: { id: string; outcome: 'succeeded' | 'pending' | 'manual_review'; code?: string }[] = [];
  for (const entry of claimed) {
    try {
      await deps.run(entry.operation);
      await deps.store.put(markResolved(entry, deps.clock(), 'replayed'));
      deps.logger.notice('dead letter replayed', { deadLetterId: entry.id, ...opFields(entry.operation) });
      results.push({ id: entry.id, outcome: 'succeeded' });
    } catch (err) {
      const e = toGraphmillError(err);
      const next = await writeDeadLetter(deps, entry.operation, e);
      results.push({
        id: entry.id,
        outcome: next.status === 'manual_review' ? 'manual_review' : 'pending',
        code: e.code,
      });
    }
  }
  return {
    claimed: claimed.length,
    succeeded: results.filter((r) => r.outcome === 'succeeded').length,
    failed: results.filter((r) => r.outcome !== 'succeeded').length,
    manualReview: results.filter((r) => r.outcome === 'manual_review').length,
    results,
  };
}

/** Replays one entry now, whatever its schedule (the CLI's `dlq replay <id>`). */
export async function replayOne(
  deps: ReplayDeps,
  id: string,
): Promise<'succeeded' | 'pending' | 'manual_review'> {
  const entry = await deps.store.get(id);
  if (!entry) throw notFound(`No dead letter ${id}`);
  try {
    await deps.run(entry.operation);
    await deps.store.put(markResolved(entry, deps.clock(), 'replayed manually'));
    return 'succeeded';
  } catch (err) {
    const next = await writeDeadLetter(deps, entry.operation, toGraphmillError(err));
    return next.status === 'manual_review' ? 'manual_review' : 'pending';
  }
}

function opFields(op: DeadLetterOperation): Record<string, string> {
  return op.kind === 'document'
    ? {
        documentId: op.documentId,
        action: op.action,
        ...(op.batchId !== undefined ? { batchId: op.batchId } : {}),
      }
    : { topic: op.topic, reason: op.reason };
}

function opAlertFields(op: DeadLetterOperation): {
  documentId?: string;
  batchId?: string;
  correlationId?: string;
} {
  if (op.kind !== 'document') return {};
  return {
    documentId: op.documentId,
    ...(op.batchId !== undefined ? { batchId: op.batchId } : {}),
    ...(op.correlationId !== undefined ? { correlationId: op.correlationId } : {}),
  };
}
