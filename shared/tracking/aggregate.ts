import type { CompletionRecord, PhaseAggregate } from './types';

/** Folds one more completion into an aggregate; the same rule every adapter (and BigQuery's MERGE) follows. */
export function foldAggregate(current: PhaseAggregate | undefined, r: CompletionRecord): PhaseAggregate {
  if (!current) {
    return {
      documentId: r.documentId,
      phase: r.phase,
      status: r.status,
      lastCompletionId: r.completionId,
      completions: 1,
      firstOccurredAt: r.occurredAt,
      lastOccurredAt: r.occurredAt,
    };
  }
  const newer =
    r.occurredAt > current.lastOccurredAt ||
    (r.occurredAt === current.lastOccurredAt && r.completionId > current.lastCompletionId);
  return {
    ...current,
    completions: current.completions + 1,
    firstOccurredAt: Math.min(current.firstOccurredAt, r.occurredAt),
    ...(newer ? { status: r.status, lastCompletionId: r.completionId, lastOccurredAt: r.occurredAt } : {}),
  };
}
