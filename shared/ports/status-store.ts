import type {
  ClaimItem,
  ClaimRequest,
  ClaimResult,
  CompletionItem,
  CompletionUpdate,
  DocumentError,
  DocumentRecord,
  DocumentStatus,
  FailedStatus,
  NewDocument,
  Stage,
} from '../status/types';

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
