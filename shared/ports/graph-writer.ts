import { isGraphmillError, type GraphmillError } from '../errors';
import type { Chunk } from '../chunking';

export interface DocumentMeta {
  readonly id: string;
  readonly title?: string;
  readonly source: string;
  readonly contentHash: string;
  readonly chunkSize: number;
  readonly chunkOverlap: number;
  /**
   * Unique per pipeline run, stored on the Document with the generation it wrote: a transaction the driver
   * retries after a lost COMMIT reply finds its own token and changes nothing.
   */
  readonly writeToken?: string;
}

/** What the graph currently holds for a document: the skip rule compares against it. */
export interface DocumentVersion {
  readonly generation: number;
  readonly contentHash: string;
  readonly chunkSize: number;
  readonly chunkOverlap: number;
  readonly chunkCount: number;
}

/** What the skip rule compares: the content and the chunk settings it was cut with. */
export type ContentKey = Pick<DocumentVersion, 'contentHash' | 'chunkSize' | 'chunkOverlap'>;

/** The skip rule: `held` (the graph, or a record of what was written) has this content, cut this way. */
export const isSameContent = (held: Partial<ContentKey> | undefined, wanted: ContentKey): boolean =>
  held !== undefined &&
  held.contentHash === wanted.contentHash &&
  held.chunkSize === wanted.chunkSize &&
  held.chunkOverlap === wanted.chunkOverlap;

export interface WriteProgress {
  readonly chunksWritten: number;
  /** Offset in the text up to which chunks are written. */
  readonly textOffset: number;
}

export interface WriteResult {
  readonly chunkCount: number;
  readonly generation: number;
  /** `skipIfUnchanged` found this content with these chunk settings in the graph: nothing was written. */
  readonly unchanged?: boolean;
}

export interface WriteOptions {
  /** Leave the document as it is when the graph already holds this content hash with these chunk settings. */
  readonly skipIfUnchanged?: boolean;
}

/** One document of a group write: it must fit in one batch (1 to `batchSize` chunks). */
export interface DocumentWrite {
  readonly meta: DocumentMeta;
  readonly chunks: readonly Chunk[];
  /** Leave the document as it is when the graph already holds this content hash with these chunk settings. */
  readonly skipIfUnchanged?: boolean;
}

export interface DocumentWriteResult {
  readonly id: string;
  /** `written` also when this write (same write token) had committed before and nothing was changed. */
  readonly outcome: 'written' | 'unchanged';
  readonly generation: number;
  readonly chunkCount: number;
}

export interface GraphWriter {
  /** Chunks per write batch: a document with more is staged in batches; writeDocuments takes up to this many. */
  readonly batchSize: number;
  /** Constraints and indexes, created once per instance (`IF NOT EXISTS`). */
  ensureSchema(): Promise<void>;
  currentVersion(documentId: string): Promise<DocumentVersion | undefined>;
  /**
   * Replaces the document's chunks atomically: readers see the old version or the new one, never a mix.
   * Chunks are consumed lazily, one batch at a time. With `skipIfUnchanged`, a document that fits in one
   * batch is compared under its lock, in the write's own statement (no read before it); a larger one by
   * the read that precedes its staging. `onProgress` is called after each batch a multi-batch write stages.
   */
  writeDocument(
    meta: DocumentMeta,
    chunks: Iterable<Chunk>,
    onProgress?: (p: WriteProgress) => Promise<void> | void,
    options?: WriteOptions,
  ): Promise<WriteResult>;
  /**
   * Group commit: replaces several small documents in ONE transaction, each with the same guarantees as
   * writeDocument (atomic per document; the group commits or rolls back as a whole). Results are in input
   * order. Throws on a document with no chunks, more than `batchSize` chunks, or an id given twice.
   */
  writeDocuments(docs: readonly DocumentWrite[]): Promise<DocumentWriteResult[]>;
  /** Removes the document and all its chunks; returns whether it existed. */
  deleteDocument(documentId: string): Promise<boolean>;
}

/**
 * The graph database is down for everyone: unavailable (after the writer's own connect retries) before any
 * statement ran. A failure raised while a document's own statement was running (`duringStatement`) may be
 * that document's doing (shared/pipeline/repeated-failure.ts), so it does not stop a run.
 */
export const isGraphOutage = (err: unknown): err is GraphmillError =>
  isGraphmillError(err) &&
  err.code === 'dependency_unavailable' &&
  err.details?.['dependency'] === 'neo4j' &&
  err.details?.['duringStatement'] !== true;
