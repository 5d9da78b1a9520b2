/**
 * The GraphWriter contract against the memory writer (the Neo4j writer runs the same suite in
 * test/integration/graph-writer-contract.int.test.ts). What it committed is read from its `documents`.
 */
import { MemoryGraphWriter } from '../../shared/adapters/memory/graph-writer';
import { graphWriterContract, type StoredDocument } from './graph-writer.contract';

const readBack = (writer: MemoryGraphWriter, documentId: string): Promise<StoredDocument> => {
  const held = writer.documents.get(documentId);
  if (!held) return Promise.resolve({ visible: undefined, storedChunks: 0, problems: [] });
  const { version, meta, chunks } = held;
  return Promise.resolve({
    visible: {
      generation: version.generation,
      chunkCount: version.chunkCount,
      contentHash: version.contentHash,
      chunkSize: version.chunkSize,
      chunkOverlap: version.chunkOverlap,
      writeToken: meta.writeToken,
      chunks: chunks.map((c) => ({
        index: c.index,
        text: c.text,
        start: c.start,
        end: c.end,
        generation: version.generation,
      })),
    },
    storedChunks: chunks.length,
    problems:
      chunks.length === version.chunkCount
        ? []
        : [`${chunks.length} chunks, chunkCount ${version.chunkCount}`],
  });
};

graphWriterContract('MemoryGraphWriter', {
  makeWriter: (batchSize) => new MemoryGraphWriter(batchSize),
  readBack,
  id: (name) => name,
});
