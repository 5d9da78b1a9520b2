/**
 * The CompletionLedger port: completion records, written once per completion (idempotent by
 * `completionId`), plus a per-document/phase aggregate. Firestore (orchestration) and BigQuery
 * (analytics) each implement it; the CompletionTracker writes to both.
 */

export const COMPLETION_STATUSES = ['succeeded', 'failed'] as const;
export type CompletionStatus = (typeof COMPLETION_STATUSES)[number];

export interface CompletionRecord {
  /** Deterministic (see `completionIdFor`): the same completion always has the same id, so writes are idempotent. */
  readonly completionId: string;
  readonly documentId: string;
  readonly batchId?: string;
  readonly phase: string;
  readonly status: CompletionStatus;
  readonly chunkCount?: number;
  readonly contentHash?: string;
  readonly durationMs?: number;
  readonly attempt?: number;
  readonly errorCode?: string;
  readonly functionName?: string;
  readonly correlationId?: string;
  /** Epoch ms when the completion happened. */
  readonly occurredAt: number;
}

/** The aggregate for one document and phase: the latest completion wins (by occurredAt, then id). */
export interface PhaseAggregate {
  readonly documentId: string;
  readonly phase: string;
  readonly status: CompletionStatus;
  readonly lastCompletionId: string;
  readonly completions: number;
  readonly firstOccurredAt: number;
  readonly lastOccurredAt: number;
}

export interface CompletionFilter {
  readonly documentId?: string;
  readonly batchId?: string;
  readonly phase?: string;
  /** Epoch ms, inclusive. */
  readonly since?: number;
  /** Epoch ms, exclusive. */
  readonly until?: number;
  readonly limit?: number;
}
