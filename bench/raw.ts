/**
 * The raw baseline: the fastest plain driver code for the same nodes, properties and relationships as
 * graphmill's writer. It loads nothing of graphmill but the types, so that the raw script process
 * (raw-child.ts) pays only for the driver and the chunker.
 */
import type { Driver } from 'neo4j-driver';
import { forEachConcurrent } from './stats';
import type { BenchDocument } from './writers';

/** Documents, their chunks, PART_OF, FIRST_CHUNK and the NEXT_CHUNK chain, for many documents at once. */
export const RAW_WRITE = `
UNWIND $docs AS d
CREATE (doc:Document {id: d.id, title: d.title, source: d.source, contentHash: d.contentHash,
                      chunkCount: toInteger(d.chunkCount), chunkSize: toInteger(d.chunkSize),
                      chunkOverlap: toInteger(d.chunkOverlap), generation: 1, updatedAt: d.updatedAt})
WITH doc, d
UNWIND d.chunks AS r
CREATE (c:Chunk {id: r.id, documentId: d.id, index: toInteger(r.index), text: r.text,
                 start: toInteger(r.start), end: toInteger(r.end), generation: 1})
CREATE (c)-[:PART_OF]->(doc)
WITH doc, collect(c) AS cs
WITH doc, cs, cs[0] AS first
CREATE (doc)-[:FIRST_CHUNK]->(first)
WITH cs
UNWIND range(0, size(cs) - 2) AS i
WITH cs[i] AS a, cs[i + 1] AS b
CREATE (a)-[:NEXT_CHUNK]->(b)`;

export interface RawOptions {
  /** Chunks per transaction (whole documents are grouped until this is reached). */
  readonly chunksPerTx: number;
  /** Sessions writing in parallel. */
  readonly sessions: number;
}

export function rawParams(d: BenchDocument, updatedAt: string): Record<string, unknown> {
  return {
    id: d.meta.id,
    title: d.meta.title ?? null,
    source: d.meta.source,
    contentHash: d.meta.contentHash,
    chunkCount: d.chunks.length,
    chunkSize: d.meta.chunkSize,
    chunkOverlap: d.meta.chunkOverlap,
    updatedAt,
    chunks: d.chunks.map((c) => ({
      id: `${d.meta.id}#1#${c.index}`, // chunkId(id, 1, index), spelled out to load nothing of graphmill
      index: c.index,
      text: c.text,
      start: c.start,
      end: c.end,
    })),
  };
}

/**
 * Groups whole documents into transactions by their chunk count: `at-most` (raw's rule) closes a group
 * before a document would take it past `chunks`; `at-least` (graphmill's group commit, as `graphmill ingest`
 * gathers) closes it once it holds `chunks` or more.
 */
export function groupDocuments(
  docs: readonly BenchDocument[],
  chunks: number,
  rule: 'at-most' | 'at-least' = 'at-most',
): BenchDocument[][] {
  const groups: BenchDocument[][] = [];
  let current: BenchDocument[] = [];
  let size = 0;
  const close = () => {
    groups.push(current);
    current = [];
    size = 0;
  };
  for (const d of docs) {
    if (rule === 'at-most' && current.length > 0 && size + d.chunks.length > chunks) close();
    current.push(d);
    size += d.chunks.length;
    if (rule === 'at-least' && size >= chunks) close();
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

export async function writeRaw(
  driver: Driver,
  docs: readonly BenchDocument[],
  options: RawOptions,
): Promise<void> {
  const updatedAt = new Date().toISOString();
  const groups = groupDocuments(docs, options.chunksPerTx);
  await forEachConcurrent(groups, options.sessions, async (group) => {
    const session = driver.session();
    try {
      await session.executeWrite((tx) =>
        tx.run(RAW_WRITE, { docs: group.map((d) => rawParams(d, updatedAt)) }),
      );
    } finally {
      await session.close();
    }
  });
}
