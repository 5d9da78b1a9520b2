/**
 * A GraphWriter kept in memory, for unit tests of the handler and pipeline logic. The real writer is
 * tested against a real Neo4j in test/integration; this one only has to honour the same port.
 */
import type { Chunk } from '../../chunking';
import {
  isSameContent,
  type DocumentMeta,
  type DocumentVersion,
  type DocumentWrite,
  type DocumentWriteResult,
  type GraphWriter,
  type WriteOptions,
  type WriteResult,
} from '../../ports/graph-writer';

export class MemoryGraphWriter implements GraphWriter {
  /** The batch size the group runner reads (a document with more chunks takes the single path). */
  constructor(readonly batchSize = 1000) {}
  readonly documents = new Map<string, { meta: DocumentMeta; version: DocumentVersion; chunks: Chunk[] }>();
  writes = 0;
  /** writeDocuments calls (one per group transaction). */
  groupWrites = 0;
  /** When set, writeDocument throws it (after consuming the chunks) to simulate a failing database. */
  failWith: Error | undefined;

  ensureSchema(): Promise<void> {
    return Promise.resolve();
  }

  currentVersion(documentId: string): Promise<DocumentVersion | undefined> {
    return Promise.resolve(this.documents.get(documentId)?.version);
  }

  async writeDocument(
    meta: DocumentMeta,
    chunks: Iterable<Chunk>,
    onProgress?: (p: { chunksWritten: number; textOffset: number }) => Promise<void> | void,
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    // Like the Neo4j writer: chunks are pulled a batch at a time, with progress after each batch of a
    // document that has more than one.
    const all: Chunk[] = [];
    for (const chunk of chunks) {
      if (all.length > 0 && all.length % this.batchSize === 0) {
        await onProgress?.({ chunksWritten: all.length, textOffset: all.at(-1)?.end ?? 0 });
      }
      all.push(chunk);
    }
    if (all.length > this.batchSize) {
      await onProgress?.({ chunksWritten: all.length, textOffset: all.at(-1)?.end ?? 0 });
    }
    if (this.failWith) throw this.failWith;
    const stored = this.documents.get(meta.id);
    const held = stored?.version;
    if (held && meta.writeToken !== undefined && stored.meta.writeToken === meta.writeToken) {
      // Like Neo4j: this very write committed before (a retry after a lost COMMIT reply) and changes nothing.
      return { chunkCount: all.length, generation: held.generation };
    }
    if (options.skipIfUnchanged === true && held && isSameContent(held, meta)) {
      return { chunkCount: held.chunkCount, generation: held.generation, unchanged: true };
    }
    const generation = this.store(meta, all);
    return { chunkCount: all.length, generation };
  }

  /** Replaces the document with the next generation of its chunks; returns that generation. */
  private store(meta: DocumentMeta, chunks: Chunk[]): number {
    this.writes++;
    const generation = (this.documents.get(meta.id)?.version.generation ?? 0) + 1;
    const version = {
      generation,
      contentHash: meta.contentHash,
      chunkSize: meta.chunkSize,
      chunkOverlap: meta.chunkOverlap,
      chunkCount: chunks.length,
    };
    this.documents.set(meta.id, { meta, version, chunks });
    return generation;
  }

  /** Same rules as the Neo4j writer: all or nothing, a repeated write token changes nothing, skip if unchanged. */
  writeDocuments(docs: readonly DocumentWrite[]): Promise<DocumentWriteResult[]> {
    if (this.failWith) return Promise.reject(this.failWith);
    // The Neo4j writer's checks, in its order and with its messages, all before anything is written.
    const seen = new Set<string>();
    for (const d of docs) {
      if (d.chunks.length === 0 || d.chunks.length > this.batchSize) {
        return Promise.reject(
          new Error(
            `writeDocuments: document ${d.meta.id} has ${d.chunks.length} chunks; a group takes 1 to ${this.batchSize}`,
          ),
        );
      }
      if (seen.has(d.meta.id)) {
        return Promise.reject(new Error(`writeDocuments: document ${d.meta.id} is given twice`));
      }
      seen.add(d.meta.id);
    }
    this.groupWrites++;
    return Promise.resolve(
      docs.map((d): DocumentWriteResult => {
        const held = this.documents.get(d.meta.id);
        const v = held?.version;
        if (
          held &&
          v &&
          ((d.meta.writeToken !== undefined && held.meta.writeToken === d.meta.writeToken) ||
            (d.skipIfUnchanged === true && isSameContent(v, d.meta)))
        ) {
          const same = held.meta.writeToken !== undefined && held.meta.writeToken === d.meta.writeToken;
          return {
            id: d.meta.id,
            outcome: same ? 'written' : 'unchanged',
            generation: v.generation,
            chunkCount: v.chunkCount,
          };
        }
        const generation = this.store(d.meta, [...d.chunks]);
        return { id: d.meta.id, outcome: 'written', generation, chunkCount: d.chunks.length };
      }),
    );
  }

  deleteDocument(documentId: string): Promise<boolean> {
    return Promise.resolve(this.documents.delete(documentId));
  }
}
