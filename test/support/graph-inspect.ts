/** Reads a document's lexical graph back from Neo4j, and checks the structural invariants. */
import type { Driver } from 'neo4j-driver';

export interface ChunkRow {
  id: string;
  index: number;
  text: string;
  start: number;
  end: number;
  generation: number;
}

export interface DocumentGraph {
  document: Record<string, unknown> | undefined;
  /**
   * The visible version's chunks: linked to the document with PART_OF and of its generation (a large
   * document being rewritten also has the staged generation's chunks, and after its switch the previous
   * generation's until the clean-up has removed them), by index.
   */
  chunks: ChunkRow[];
  partOf: number;
  firstChunk: string[];
  nextChain: string[];
  /** Chunk nodes carrying this documentId, linked or not. */
  allChunkNodes: number;
}

/**
 * One query reads the document, its chunks, FIRST_CHUNK and the NEXT_CHUNK links together.
 *
 * Neo4j reads are read-committed: even one query can see part of a state from before a concurrent
 * commit and part from after it. To observe exactly one committed state, `inspectDocument(..., { locked:
 * true })` first takes the Document node's write lock (the graph writer's flip takes the same lock), so no
 * write can commit between the parts of the read. That is what proves "no committed state shows a
 * half-written document".
 */
const INSPECT = `
MATCH (d:Document {id: $id})
OPTIONAL MATCH (d)-[:FIRST_CHUNK]->(f)
WITH d, collect(f.id) AS first
OPTIONAL MATCH (c:Chunk)-[:PART_OF]->(d) WHERE c.generation = d.generation
OPTIONAL MATCH (c)-[:NEXT_CHUNK]->(n)
WITH d, first, c, collect(n.id) AS nexts ORDER BY c.index
RETURN properties(d) AS d, first,
       [x IN collect({id: c.id, index: c.index, text: c.text, start: c.start, end: c.end,
                      generation: c.generation, next: nexts}) WHERE x.id IS NOT NULL] AS chunks`;

export async function inspectDocument(
  driver: Driver,
  documentId: string,
  options: { locked?: boolean } = {},
): Promise<DocumentGraph> {
  const session = driver.session();
  try {
    const res = options.locked
      ? await session.executeWrite(async (tx) => {
          await tx.run('MATCH (d:Document {id: $id}) SET d.inspectLock = true REMOVE d.inspectLock', {
            id: documentId,
          });
          return tx.run(INSPECT, { id: documentId });
        })
      : await session.executeRead((tx) => tx.run(INSPECT, { id: documentId }));
    const all = await session.executeRead((tx) =>
      tx.run('MATCH (c:Chunk {documentId: $id}) RETURN count(c) AS n', { id: documentId }),
    );
    const allChunkNodes = all.records[0]?.get('n') as number;
    const r = res.records[0];
    if (!r)
      return { document: undefined, chunks: [], partOf: 0, firstChunk: [], nextChain: [], allChunkNodes };
    const rows = r.get('chunks') as (ChunkRow & { next: string[] })[];
    const firstChunk = r.get('first') as string[];
    // Walk NEXT_CHUNK from the first chunk; bounded by the chunk count so a cycle cannot hang a test.
    const next = new Map(rows.map((c) => [c.id, c.next]));
    const nextChain: string[] = [];
    let cursor: string | undefined = firstChunk[0];
    while (cursor !== undefined && nextChain.length <= rows.length) {
      nextChain.push(cursor);
      const n = next.get(cursor);
      cursor = n && n.length === 1 ? n[0] : undefined;
    }
    return {
      document: r.get('d') as Record<string, unknown>,
      chunks: rows.map(({ next: _n, ...c }) => c),
      partOf: rows.length,
      firstChunk,
      nextChain,
      allChunkNodes,
    };
  } finally {
    await session.close();
  }
}

/** The invariants of one fully written document against its source text. Returns problems (empty = ok). */
export function graphProblems(g: DocumentGraph, text: string, chunkSize: number): string[] {
  if (!g.document) return ['document node missing'];
  const problems: string[] = [];
  g.chunks.forEach((c, i) => {
    if (text.slice(c.start, c.end) !== c.text)
      problems.push(`chunk ${i} text does not match text.slice(start, end)`);
    if (c.text.length > chunkSize) problems.push(`chunk ${i} longer than ${chunkSize}`);
    const prev = g.chunks[i - 1];
    if (i === 0 && c.start !== 0) problems.push('first chunk does not start at 0');
    if (prev && c.start > prev.end) problems.push(`gap between chunk ${i - 1} and ${i}`);
  });
  const last = g.chunks.at(-1);
  if (text.length > 0 && last?.end !== text.length)
    problems.push('last chunk does not end at the end of the text');
  return [...problems, ...structureProblems(g)];
}

/**
 * The invariants that need no source text: counts, indexes, generations, FIRST_CHUNK and the NEXT_CHUNK
 * chain. Returns problems (empty = ok).
 */
export function structureProblems(g: DocumentGraph): string[] {
  const problems: string[] = [];
  const d = g.document;
  if (!d) return ['document node missing'];
  const n = d['chunkCount'] as number;
  if (g.partOf !== n) problems.push(`PART_OF count ${g.partOf} != chunkCount ${n}`);
  if (g.allChunkNodes !== n) problems.push(`${g.allChunkNodes} chunk nodes for the document, expected ${n}`);
  g.chunks.forEach((c, i) => {
    if (c.index !== i) problems.push(`chunk ${c.id} has index ${c.index}, expected ${i}`);
    if (c.generation !== d['generation'])
      problems.push(`chunk ${i} generation ${c.generation} != ${String(d['generation'])}`);
  });
  if (n > 0) {
    if (g.firstChunk.length !== 1 || g.firstChunk[0] !== g.chunks[0]?.id) problems.push('FIRST_CHUNK wrong');
    const expectedChain = g.chunks.map((c) => c.id);
    if (JSON.stringify(g.nextChain) !== JSON.stringify(expectedChain))
      problems.push('NEXT_CHUNK chain is not the chunks in order');
  } else if (g.firstChunk.length !== 0) problems.push('FIRST_CHUNK on an empty document');
  return problems;
}
