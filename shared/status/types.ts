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

export interface StatusStore {
  /** Creates the document as `pending`, or updates its source/title/content, keeping its status. */
  register(doc: NewDocument, now: number): Promise<DocumentRecord>;
  get(id: string): Promise<DocumentRecord | undefined>;
  list(filter?: { readonly status?: DocumentStatus; readonly batchId?: string }): Promise<DocumentRecord[]>;
  /**
   * Atomically moves the document to `processing` with a lease, unless another owner holds a live lease.
   * An expired lease is taken over (attempt + 1), so no document stays in `processing` forever.
   */
  claim(id: string, request: ClaimRequest): Promise<ClaimResult>;
  /** Records stage and progress; throws `lease_lost` if `owner` no longer holds the lease. */
  progress(id: string, owner: string, stage: Stage, progress: number, now: number): Promise<void>;
  /** Marks the document completed and releases the lease; clears `error`. */
  complete(id: string, owner: string, update: CompletionUpdate, now: number): Promise<void>;
  /** Marks the document failed (or dead_lettered, or pending: see FailedStatus) and releases the lease. */
  fail(id: string, owner: string, error: DocumentError, now: number, status?: FailedStatus): Promise<void>;
  /** Removes the record; returns whether it existed. */
  delete(id: string): Promise<boolean>;
  /*
   * Batched forms, for stores that can apply many transitions in one transaction (the embedded SQLite store).
   * Each document's transition is the same as its single form; callers use the helpers in ./batch.ts, which
   * fall back to the single forms for stores without them.
   */
  /** register for each document, in one transaction. */
  registerMany?(docs: readonly NewDocument[], now: number): Promise<DocumentRecord[]>;
  /** claim for each item, in one transaction; results in input order. */
  claimMany?(items: readonly ClaimItem[], lease: Omit<ClaimRequest, 'owner'>): Promise<ClaimResult[]>;
  /**
   * complete for each item, in one transaction: an item whose lease is lost gets its error in the result
   * (input order) and changes nothing; the others are completed.
   */
  completeMany?(items: readonly CompletionItem[], now: number): Promise<(Error | undefined)[]>;
  close(): Promise<void>;
}
