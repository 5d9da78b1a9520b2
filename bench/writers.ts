/**
 * The three ways of writing the same lexical graph that the write-path benchmark compares:
 * - graphmill: `makeNeo4jGraphWriter(...).writeDocument` per document, as the functions call it, and
 *   `writeDocuments` per group of documents (group commit), as `graphmill ingest` calls it;
 * - raw: the fastest plain driver code for the same nodes, properties and relationships: one `UNWIND`
 *   statement per large transaction of whole documents, several sessions in parallel, no locking, no
 *   generations, no orchestration;
 * - naive: one transaction per chunk, sequential (the pattern graphmill exists to avoid).
 * All three produce the same graph (see docs/performance.md): Document {id, title, source, contentHash,
 * chunkCount, chunkSize, chunkOverlap, generation: 1, updatedAt}, Chunk {id, documentId, index, text, start,
 * end, generation: 1}, PART_OF, FIRST_CHUNK and NEXT_CHUNK, on the same constraints and indexes.
 */
import type { Driver } from 'neo4j-driver';
import type { Chunk } from '../shared/chunking';
import { chunkId, makeNeo4jGraphWriter } from '../shared/adapters/neo4j/graph-writer';
import type { DocumentMeta, GraphWriter } from '../shared/ports/graph-writer';
import { makeNeo4jAccess, type Neo4jAccess } from '../shared/adapters/neo4j/access';
import type { Config } from '../shared/config';
import { groupDocuments } from './raw';
import { forEachConcurrent } from './stats';

export interface BenchDocument {
  readonly meta: DocumentMeta;
  readonly chunks: readonly Chunk[];
}

export const chunkCount = (docs: readonly BenchDocument[]): number =>
  docs.reduce((n, d) => n + d.chunks.length, 0);

// ---------------------------------------------------------------------------------------------------------
// graphmill

export interface GraphmillWriter {
  readonly writer: GraphWriter;
  readonly access: Neo4jAccess;
  close(): Promise<void>;
}

/**
 * The graph writer as the composition root wires it: one Neo4j access (driver settings from graphmill's
 * configuration, i.e. its production defaults) and `makeNeo4jGraphWriter(access, { batchSize })` with the
 * configured batch size unless `batchSize` is given (for sweeps).
 */
export function makeGraphmillWriter(
  config: Config,
  batchSize: number = config.writeBatchSize,
): GraphmillWriter {
  const password = config.neo4j.password ?? '';
  const access = makeNeo4jAccess({
    settings: config.neo4j,
    password: { get: () => Promise.resolve(password), invalidate: () => undefined },
  });
  return { access, writer: makeNeo4jGraphWriter(access, { batchSize }), close: () => access.close() };
}

export async function writeWithGraphmill(
  writer: GraphWriter,
  docs: readonly BenchDocument[],
  concurrency: number,
): Promise<void> {
  await forEachConcurrent(docs, concurrency, async (d) => {
    const result = await writer.writeDocument(d.meta, d.chunks);
    if (result.chunkCount !== d.chunks.length) {
      throw new Error(
        `graphmill wrote ${result.chunkCount} chunks for ${d.meta.id}, expected ${d.chunks.length}`,
      );
    }
  });
}

/**
 * Group commit, as `graphmill ingest` writes: whole documents gathered until a group holds at least
 * `maxGroupChunks` chunks, one `writeDocuments` transaction per group, `concurrency` groups in flight.
 */
export async function writeGroupsWithGraphmill(
  writer: GraphWriter,
  docs: readonly BenchDocument[],
  maxGroupChunks: number,
  concurrency: number,
): Promise<void> {
  const groups = groupDocuments(docs, maxGroupChunks, 'at-least');
  await forEachConcurrent(groups, concurrency, async (group) => {
    const results = await writer.writeDocuments(group.map((d) => ({ meta: d.meta, chunks: d.chunks })));
    for (const [i, r] of results.entries()) {
      const expected = group[i]?.chunks.length;
      if (r.chunkCount !== expected) {
        throw new Error(`graphmill wrote ${r.chunkCount} chunks for ${r.id}, expected ${expected}`);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// raw baseline: in ./raw.ts, which loads nothing of graphmill (the raw script process requires it alone)

export * from './raw';

// ---------------------------------------------------------------------------------------------------------
// naive pattern

/** One chunk, its document (merged), PART_OF, FIRST_CHUNK for the first chunk and NEXT_CHUNK from the previous. */
export const NAIVE_WRITE = `
MERGE (d:Document {id: $documentId})
SET d.title = $title, d.source = $source, d.contentHash = $contentHash, d.chunkCount = toInteger($index) + 1,
    d.chunkSize = toInteger($chunkSize), d.chunkOverlap = toInteger($chunkOverlap), d.generation = 1,
    d.updatedAt = $updatedAt
CREATE (c:Chunk {id: $id, documentId: $documentId, index: toInteger($index), text: $text,
                 start: toInteger($start), end: toInteger($end), generation: 1})
CREATE (c)-[:PART_OF]->(d)
FOREACH (_ IN CASE WHEN $index = 0 THEN [1] ELSE [] END | CREATE (d)-[:FIRST_CHUNK]->(c))
WITH c
OPTIONAL MATCH (p:Chunk {id: $previousId})
FOREACH (x IN CASE WHEN p IS NULL THEN [] ELSE [p] END | CREATE (x)-[:NEXT_CHUNK]->(c))`;

/** `driver.executeQuery` (one managed transaction) per chunk, one after the other. */
export async function writeNaive(driver: Driver, docs: readonly BenchDocument[]): Promise<void> {
  const updatedAt = new Date().toISOString();
  for (const d of docs) {
    for (const c of d.chunks) {
      await driver.executeQuery(NAIVE_WRITE, {
        documentId: d.meta.id,
        title: d.meta.title ?? null,
        source: d.meta.source,
        contentHash: d.meta.contentHash,
        chunkSize: d.meta.chunkSize,
        chunkOverlap: d.meta.chunkOverlap,
        updatedAt,
        id: chunkId(d.meta.id, 1, c.index),
        index: c.index,
        text: c.text,
        start: c.start,
        end: c.end,
        previousId: c.index > 0 ? chunkId(d.meta.id, 1, c.index - 1) : null,
      });
    }
  }
}
