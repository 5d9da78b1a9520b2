/**
 * The lexical graph of one id prefix, read back with Cypher, to compare a chaos run with a clean
 * reference run: documents, the chunks of their visible generation, chunks of no visible generation and
 * duplicates.
 */
import type { Driver } from 'neo4j-driver';

export interface DocumentRow {
  id: string;
  title: unknown;
  source: unknown;
  contentHash: unknown;
  chunkCount: unknown;
  chunkSize: unknown;
  chunkOverlap: unknown;
  generation: unknown;
}

export interface ChunkRow {
  documentId: string;
  id: string;
  chunkDocumentId: unknown;
  index: unknown;
  text: unknown;
  start: unknown;
  end: unknown;
  generation: unknown;
}

export interface GraphDump {
  documents: DocumentRow[];
  chunks: ChunkRow[];
  /**
   * Chunk nodes of the prefix outside every visible version: linked to no Document, or not of its
   * generation (staged by a run that did not switch, or an old generation not yet cleaned up).
   */
  unreferencedChunks: number;
  /** Chunk ids present more than once (the uniqueness constraint should make this impossible). */
  duplicateChunkIds: string[];
  /** Documents with more Chunk nodes (linked or not) than their chunkCount. */
  documentsWithExtraChunks: string[];
  /** Every Chunk node of the prefix, linked or not. */
  chunkNodes: number;
}

export async function dumpGraph(driver: Driver, prefix: string): Promise<GraphDump> {
  const q = async (cypher: string) =>
    (await driver.executeQuery(cypher, { p: prefix }, { routing: 'READ' })).records.map((r) => r.toObject());
  const documents = (await q(
    `MATCH (d:Document) WHERE d.id STARTS WITH $p
     RETURN d.id AS id, d.title AS title, d.source AS source, d.contentHash AS contentHash,
            d.chunkCount AS chunkCount, d.chunkSize AS chunkSize, d.chunkOverlap AS chunkOverlap,
            d.generation AS generation
     ORDER BY id`,
  )) as unknown as DocumentRow[];
  const chunks = (await q(
    `MATCH (c:Chunk)-[:PART_OF]->(d:Document) WHERE d.id STARTS WITH $p AND c.generation = d.generation
     RETURN d.id AS documentId, c.id AS id, c.documentId AS chunkDocumentId, c.index AS index,
            c.text AS text, c.start AS start, c.end AS end, c.generation AS generation
     ORDER BY id`,
  )) as unknown as ChunkRow[];
  const [unreferenced] = await q(
    `MATCH (c:Chunk) WHERE c.documentId STARTS WITH $p
       AND NOT EXISTS { MATCH (c)-[:PART_OF]->(d:Document) WHERE d.generation = c.generation }
     RETURN count(c) AS n`,
  );
  const [nodes] = await q('MATCH (c:Chunk) WHERE c.documentId STARTS WITH $p RETURN count(c) AS n');
  const duplicates = await q(
    `MATCH (c:Chunk) WHERE c.documentId STARTS WITH $p
     WITH c.id AS id, count(*) AS n WHERE n > 1 RETURN id`,
  );
  const extra = await q(
    `MATCH (d:Document) WHERE d.id STARTS WITH $p
     OPTIONAL MATCH (c:Chunk {documentId: d.id})
     WITH d, count(c) AS n WHERE n > coalesce(d.chunkCount, 0) RETURN d.id AS id`,
  );
  return {
    documents,
    chunks,
    unreferencedChunks: Number(unreferenced?.['n'] ?? 0),
    duplicateChunkIds: duplicates.map((r) => String(r['id'])),
    documentsWithExtraChunks: extra.map((r) => String(r['id'])),
    chunkNodes: Number(nodes?.['n'] ?? 0),
  };
}

export interface DumpComparison {
  /** Reference documents absent from the run. */
  lostDocuments: string[];
  /** Documents of the run the reference does not have. */
  extraDocuments: string[];
  /** Documents present in both whose properties differ. */
  changedDocuments: string[];
  /** Reference chunks (by id) absent from the run. */
  lostChunks: string[];
  extraChunks: string[];
  /** Chunks present in both whose text, offsets, index or generation differ. */
  changedChunks: string[];
}

export function compareDumps(reference: GraphDump, run: GraphDump): DumpComparison {
  const byId = <T extends { id: string }>(rows: T[]) => new Map(rows.map((r) => [r.id, JSON.stringify(r)]));
  const diff = (a: Map<string, string>, b: Map<string, string>) => ({
    lost: [...a.keys()].filter((k) => !b.has(k)),
    extra: [...b.keys()].filter((k) => !a.has(k)),
    changed: [...a.keys()].filter((k) => b.has(k) && a.get(k) !== b.get(k)),
  });
  const d = diff(byId(reference.documents), byId(run.documents));
  const c = diff(byId(reference.chunks), byId(run.chunks));
  return {
    lostDocuments: d.lost,
    extraDocuments: d.extra,
    changedDocuments: d.changed,
    lostChunks: c.lost,
    extraChunks: c.extra,
    changedChunks: c.changed,
  };
}

/** Removes every node of the prefix (documents and chunks). */
export async function deletePrefix(driver: Driver, prefix: string): Promise<void> {
  for (let round = 0; round < 100; round++) {
    const res = await driver.executeQuery(
      `MATCH (n) WHERE (n:Document AND n.id STARTS WITH $p) OR (n:Chunk AND n.documentId STARTS WITH $p)
       WITH n LIMIT 5000 DETACH DELETE n RETURN count(*) AS n`,
      { p: prefix },
    );
    if (Number(res.records[0]?.get('n') ?? 0) === 0) return;
  }
  throw new Error(`could not delete the nodes of ${prefix} in 100 rounds`);
}
