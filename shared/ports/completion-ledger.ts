import type { CompletionFilter, CompletionRecord, PhaseAggregate } from '../tracking/types';

export interface CompletionLedger {
  /** Writes the record; writing the same completionId again changes nothing. */
  record(record: CompletionRecord): Promise<void>;
  /** Optional: many records in one all-or-nothing write, each with `record`'s rules (the SQLite ledger). */
  recordMany?(records: readonly CompletionRecord[]): Promise<void>;
  get(completionId: string): Promise<CompletionRecord | undefined>;
  /** Ordered by occurredAt, then completionId. */
  list(filter?: CompletionFilter): Promise<CompletionRecord[]>;
  aggregate(documentId: string, phase: string): Promise<PhaseAggregate | undefined>;
  /**
   * Folds everything recorded since `since` into a stored aggregate table, for ledgers that maintain one
   * in batches (BigQuery's MERGE into `document_status`); the reconciliation job calls it.
   */
  refreshAggregates?(options: { readonly since: number }): Promise<unknown>;
}
