/**
 * The DeadLetterStore port. A dead letter holds the failed operation, its error class and history, the
 * attempts made, when it is next due and how it is retried (the strategy follows the error class).
 */

export const ERROR_CLASSES = ['connection', 'timeout', 'permanent'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export const RETRY_STRATEGIES = ['exponential', 'linear', 'manual'] as const;
export type RetryStrategy = (typeof RETRY_STRATEGIES)[number];

export const DEAD_LETTER_STATUSES = ['pending', 'replaying', 'manual_review', 'resolved'] as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number];

/** What to re-drive: a document through the pipeline, or an event that could not even be decoded. */
export type DeadLetterOperation =
  | {
      readonly kind: 'document';
      readonly documentId: string;
      readonly action: 'process_document' | 'reprocess_document' | 'delete_document';
      readonly batchId?: string;
      readonly phase?: string;
      readonly correlationId?: string;
    }
  | { readonly kind: 'event'; readonly topic: string; readonly payload: string; readonly reason: string };

export interface DeadLetterAttempt {
  /** Epoch ms. */
  readonly at: number;
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
}

export interface DeadLetter {
  /** Deterministic per operation (one entry per document and action), so repeated failures update one entry. */
  readonly id: string;
  readonly operation: DeadLetterOperation;
  readonly errorClass: ErrorClass;
  readonly strategy: RetryStrategy;
  readonly status: DeadLetterStatus;
  readonly attempts: number;
  readonly maxAttempts: number;
  /** Epoch ms; absent when the entry waits for manual review. */
  readonly nextAttemptAt?: number;
  readonly history: readonly DeadLetterAttempt[];
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Set once, when the entry ran out of attempts (or needs review) and the alert went out. */
  readonly alertedAt?: number;
  readonly resolvedAt?: number;
  readonly resolution?: string;
  /** Who holds a `replaying` entry, and until when (epoch ms): a crashed replay is taken over. */
  readonly leaseOwner?: string;
  readonly leaseExpiresAt?: number;
}

export interface DeadLetterFilter {
  readonly status?: DeadLetterStatus;
  readonly limit?: number;
}
