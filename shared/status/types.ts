/** The status of one document, as every StatusStore adapter keeps it. */

export const DOCUMENT_STATUSES = ['pending', 'processing', 'completed', 'failed', 'dead_lettered'] as const;
export type DocumentStatus = (typeof DOCUMENT_STATUSES)[number];

/**
 * How `fail` leaves a document: `failed` or `dead_lettered`, or `pending` when the run let go of it for a
 * reason of its own machine (the state store's disk is full), so that the next run takes it up as new.
 */
export type FailedStatus = Extract<DocumentStatus, 'pending' | 'failed' | 'dead_lettered'>;

export const STAGES = ['fetching', 'chunking', 'writing', 'recording'] as const;
export type Stage = (typeof STAGES)[number];

export interface DocumentError {
  readonly stage: Stage | 'claim';
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  /**
   * Consecutive attempts that failed this same way while a write statement was running (set only for such
   * failures): at `MAX_SAME_WRITE_FAILURES` the document fails permanently as `repeated_failure`.
   */
  readonly repeats?: number;
}

export interface DocumentRecord {
  readonly id: string;
  /** Where the content lives: `inline:`, `file:///...`, `https://...` or `gs://bucket/object`. */
  readonly source: string;
  readonly title?: string;
  /** The text itself, for `inline:` sources. */
  readonly content?: string;
  readonly batchId?: string;
  readonly status: DocumentStatus;
  readonly stage?: Stage;
  readonly progress?: number;
  readonly leaseOwner?: string;
  /** Epoch ms. */
  readonly leaseExpiresAt?: number;
  readonly attempt: number;
  readonly contentHash?: string;
  readonly chunkCount?: number;
  readonly chunkSize?: number;
  readonly chunkOverlap?: number;
  readonly durationMs?: number;
  readonly error?: DocumentError;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly completedAt?: number;
}

export interface NewDocument {
  readonly id: string;
  readonly source: string;
  readonly title?: string;
  readonly content?: string;
  readonly batchId?: string;
}

export interface ClaimRequest {
  readonly owner: string;
  readonly leaseMs: number;
  readonly now: number;
}

export type ClaimResult =
  | { readonly outcome: 'claimed'; readonly record: DocumentRecord; readonly previous: DocumentRecord }
  | { readonly outcome: 'leased'; readonly leaseOwner: string; readonly leaseExpiresAt: number }
  | { readonly outcome: 'not_found' };

export interface CompletionUpdate {
  readonly contentHash: string;
  readonly chunkCount: number;
  readonly chunkSize: number;
  readonly chunkOverlap: number;
  readonly durationMs: number;
}

/** One document of a batched claim: each keeps its own lease owner. */
export interface ClaimItem {
  readonly id: string;
  readonly owner: string;
}

export interface CompletionItem {
  readonly id: string;
  readonly owner: string;
  readonly update: CompletionUpdate;
}
