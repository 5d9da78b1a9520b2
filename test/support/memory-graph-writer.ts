/**
 * A GraphWriter kept in memory, for unit tests of the handler and pipeline logic. The real writer is
 * tested against a real Neo4j in test/integration; this one only has to honour the same port.
 */
import type { Chunk } from '../../shared/chunking';
import type {
  DocumentMeta,
  DocumentVersion,
  GraphWriter,
  WriteResult,
} from '../../shared/neo4j/graph-writer';

export class MemoryGraphWriter implements GraphWriter {
  readonly documents = new Map<string, { meta: DocumentMeta; version: DocumentVersion; chunks: Chunk[] }>();
  writes = 0;
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
  ): Promise<WriteResult> {
    const all = [...chunks];
    if (this.failWith) throw this.failWith;
    this.writes++;
    const generation = (this.documents.get(meta.id)?.version.generation ?? 0) + 1;
    const version = {
      generation,
      contentHash: meta.contentHash,
      chunkSize: meta.chunkSize,
      chunkOverlap: meta.chunkOverlap,
      chunkCount: all.length,
    };
    this.documents.set(meta.id, { meta, version, chunks: all });
    await onProgress?.({ chunksWritten: all.length, textOffset: all.at(-1)?.end ?? 0 });
    return { chunkCount: all.length, generation };
  }

  deleteDocument(documentId: string): Promise<boolean> {
    return Promise.resolve(this.documents.delete(documentId));
  }
}
