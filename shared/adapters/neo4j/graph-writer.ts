import neo4j, { type Driver, type ManagedTransaction } from 'neo4j-driver';
import type { Chunk } from '../../chunking';
import { isGraphmillError, isLeaseLost, leaseLost, withDetails } from '../../errors';
import {
  isSameContent,
  type DocumentMeta,
  type DocumentVersion,
  type DocumentWrite,
  type DocumentWriteResult,
  type GraphWriter,
} from '../../ports/graph-writer';
import type { Clock } from '../../ports/clock';
import { systemClock } from '../../resilience/time';
import type { Neo4jAccess } from './access';
import { classifyNeo4jError } from './errors';

export interface GraphWriterOptions {
  /** Rows per UNWIND batch; a document that fits in one batch is written in one transaction. */
  readonly batchSize: number;
  /**
   * Chunks removed per clean-up transaction (an old generation, what an interrupted run left, a deleted
   * document's chunks). Default: `batchSize`. Together with `batchSize` it bounds every transaction the
   * writer runs, whatever the document's size.
   */
  readonly deleteBatchSize?: number;
  /** Stamps `updatedAt` and the lock marker `lockedAt`. Default: the system clock. */
  readonly clock?: Clock;
}

/** Chunk ids are derived, never random: stable per document and generation, unique across documents. */
export const chunkId = (documentId: string, generation: number, index: number): string =>
  `${documentId}#${generation}#${index}`;

const SCHEMA = [
  'CREATE CONSTRAINT graphmill_document_id IF NOT EXISTS FOR (d:Document) REQUIRE d.id IS UNIQUE',
  'CREATE CONSTRAINT graphmill_chunk_id IF NOT EXISTS FOR (c:Chunk) REQUIRE c.id IS UNIQUE',
  'CREATE INDEX graphmill_chunk_document IF NOT EXISTS FOR (c:Chunk) ON (c.documentId)',
];
/** The names SCHEMA creates; a uniqueness constraint's backing index has the constraint's name. */
export const SCHEMA_INDEX_NAMES = ['graphmill_document_id', 'graphmill_chunk_id', 'graphmill_chunk_document'];
const COUNT_SCHEMA_INDEXES = 'SHOW INDEXES YIELD name WHERE name IN $names RETURN count(*) AS n';

/**
 * The label a deleted Document takes while its chunks are removed in batches: readers matching
 * `:Document` no longer see it, and it keeps the last generation so that a document created again with the
 * same id continues from there.
 */
export const TOMBSTONE = 'GraphmillDeletedDocument';
/**
 * The node a new document's staged chunks hang from until its switch relabels it `:Document`: readers see
 * no Document at all until the first version is whole.
 */
export const STAGED = 'GraphmillStagedDocument';

/** Locks an existing Document; no row when there is none. */
const LOCK_DOCUMENT = `
MATCH (d:Document {id: $id})
SET d.lockedAt = $now
RETURN d.generation AS generation, d.writeToken AS writeToken`;

/**
 * Replaces documents that each fit in one batch, several per statement (group commit). For every document:
 * lock the Document (creating it if new: after a delete or a staging that was interrupted, past their
 * generations) and decide under the lock:
 * - `written`: this very write committed before (same write token): the driver retried a transaction whose
 *   COMMIT reply was lost, so nothing changes;
 * - `unchanged`: asked to skip unchanged content and the graph holds this content with these settings;
 * - otherwise write the next generation (past any generation an interrupted run staged, so no chunk id is
 *   taken) with PART_OF, FIRST_CHUNK and NEXT_CHUNK, update the document, and remove the old chunks up to
 *   the new chunk count plus `$extraDeletes`. An old version larger than that (a big document replaced by a
 *   small one) is left behind the new generation, marked `pendingCleanup`, for the clean-up that follows the
 *   commit: no statement's size grows with the old version.
 * Chunk ids follow chunkId(). The statement is one transaction: all documents of a group or none.
 */
const REPLACE_DOCUMENTS = `
UNWIND $docs AS doc
OPTIONAL MATCH (t:${TOMBSTONE} {id: doc.id})
WITH doc, max(t.generation) AS deletedGeneration
OPTIONAL MATCH (s:${STAGED} {id: doc.id})
WITH doc, deletedGeneration, max(s.stagedGeneration) AS stagedGeneration
MERGE (d:Document {id: doc.id})
ON CREATE SET d.generation = coalesce(deletedGeneration, 0), d.stagedGeneration = stagedGeneration
SET d.lockedAt = $now
WITH doc, d, CASE
  WHEN doc.props.writeToken IS NOT NULL AND d.writeToken = doc.props.writeToken THEN 'written'
  WHEN doc.skipIfUnchanged AND d.generation > 0 AND d.contentHash = doc.props.contentHash
       AND d.chunkSize = doc.props.chunkSize AND d.chunkOverlap = doc.props.chunkOverlap THEN 'unchanged'
  ELSE 'write' END AS outcome
CALL {
  WITH doc, d, outcome
  WITH doc, d WHERE outcome = 'write'
  WITH doc, d,
       CASE WHEN coalesce(d.stagedGeneration, 0) > d.generation THEN d.stagedGeneration ELSE d.generation END
         + 1 AS gen
  OPTIONAL MATCH (d)-[oldFirst:FIRST_CHUNK]->()
  DELETE oldFirst
  WITH DISTINCT doc, d, gen
  CALL {
    WITH doc
    MATCH (old:Chunk {documentId: doc.id})
    WITH doc, old LIMIT $deleteScan
    WITH doc, collect(old) AS olds
    FOREACH (o IN olds[0..size(doc.rows) + $extraDeletes] | DETACH DELETE o)
  }
  UNWIND doc.rows AS r
  CREATE (c:Chunk {id: doc.id + '#' + toString(gen) + '#' + toString(toInteger(r.index)), documentId: doc.id,
                   index: toInteger(r.index), text: r.text, start: toInteger(r.start), end: toInteger(r.end),
                   generation: gen})
  CREATE (c)-[:PART_OF]->(d)
  WITH doc, d, gen, collect(c) AS cs
  FOREACH (i IN range(0, size(cs) - 2) |
    FOREACH (a IN [cs[i]] | FOREACH (b IN [cs[i + 1]] | CREATE (a)-[:NEXT_CHUNK]->(b))))
  FOREACH (f IN cs[0..1] | CREATE (d)-[:FIRST_CHUNK]->(f))
  SET d += doc.props, d.generation = gen, d.chunkCount = size(cs), d.stagedGeneration = null,
      d.pendingCleanup = CASE WHEN EXISTS {
        MATCH (rest:Chunk {documentId: doc.id}) WHERE rest.generation <> gen
      } OR EXISTS { MATCH (x:${STAGED} {id: doc.id}) } OR EXISTS { MATCH (x:${TOMBSTONE} {id: doc.id}) }
      THEN true ELSE null END
}
REMOVE d.lockedAt
RETURN doc.id AS id, CASE outcome WHEN 'write' THEN 'written' ELSE outcome END AS outcome,
       d.generation AS generation, d.chunkCount AS chunkCount, d.pendingCleanup AS pendingCleanup`;

/**
 * Marks the start of a staged write of an existing document (under the lock LOCK_DOCUMENT took): flags it
 * `pendingCleanup` and records the staged generation, so that the chunks a crash leaves behind are found by
 * the next run even when it finds the content unchanged, and a small write never reuses their ids.
 */
const BEGIN_STAGING = `
MATCH (d:Document {id: $id})
SET d.pendingCleanup = true, d.stagedGeneration = toInteger($generation)
REMOVE d.lockedAt`;

/** The same for a new document: its staged chunks hang from a STAGED node, unless a Document appeared. */
const BEGIN_STAGING_NEW = `
OPTIONAL MATCH (d:Document {id: $id})
WITH d WHERE d IS NULL
MERGE (s:${STAGED} {id: $id})
SET s.stagedGeneration = toInteger($generation), s.pendingCleanup = true
RETURN count(s) AS staged`;

/**
 * Creates one batch of chunks of the staged generation, linked with PART_OF to their Document (or, for a new
 * document, its STAGED node) and chained with NEXT_CHUNK, continuing the chain from `$previousId`. Nothing
 * reaches them from a FIRST_CHUNK, and their generation is not the Document's, until the switch.
 */
const CREATE_CHUNKS = `
OPTIONAL MATCH (d:Document {id: $documentId})
OPTIONAL MATCH (s:${STAGED} {id: $documentId})
WITH coalesce(d, s) AS owner LIMIT 1
WITH owner WHERE owner IS NOT NULL
UNWIND $rows AS r
CREATE (c:Chunk {id: r.id, documentId: $documentId, index: toInteger(r.index), text: r.text,
                 start: toInteger(r.start), end: toInteger(r.end), generation: toInteger($generation)})
CREATE (c)-[:PART_OF]->(owner)
WITH collect(c) AS cs
FOREACH (i IN range(0, size(cs) - 2) |
  FOREACH (a IN [cs[i]] | FOREACH (b IN [cs[i + 1]] | CREATE (a)-[:NEXT_CHUNK]->(b))))
WITH cs
OPTIONAL MATCH (p:Chunk {id: $previousId})
FOREACH (x IN CASE WHEN p IS NULL OR size(cs) = 0 THEN [] ELSE [p] END | FOREACH (f IN [cs[0]] | CREATE (x)-[:NEXT_CHUNK]->(f)))
RETURN size(cs) AS created`;

/** Chunks of one generation of a document (a read: its memory does not grow with the count). */
const COUNT_GENERATION = `
MATCH (c:Chunk {documentId: $id}) WHERE c.generation = $generation
RETURN count(c) AS n`;

/**
 * The switch of an existing document to generation `$generation`. Its size is constant: it moves
 * FIRST_CHUNK and sets the Document's properties; the staged chunks already carry PART_OF, and the old
 * generation is removed afterwards, in batches (`COLLECT_GARBAGE`).
 */
const SWITCH = `
MATCH (d:Document {id: $id})
OPTIONAL MATCH (d)-[fc:FIRST_CHUNK]->()
DELETE fc
WITH DISTINCT d
OPTIONAL MATCH (f:Chunk {id: $firstId})
FOREACH (x IN CASE WHEN f IS NULL THEN [] ELSE [f] END | CREATE (d)-[:FIRST_CHUNK]->(x))
SET d += $props, d.generation = toInteger($generation), d.chunkCount = toInteger($chunkCount),
    d.pendingCleanup = true
REMOVE d.lockedAt`;

/** The switch of a new document: its STAGED node becomes the `:Document` (constant size). */
const SWITCH_NEW = `
MATCH (s:${STAGED} {id: $id})
WHERE NOT EXISTS { MATCH (:Document {id: $id}) }
REMOVE s:${STAGED}
SET s:Document
SET s += $props, s.generation = toInteger($generation), s.chunkCount = toInteger($chunkCount)
WITH s
OPTIONAL MATCH (f:Chunk {id: $firstId})
FOREACH (x IN CASE WHEN f IS NULL THEN [] ELSE [f] END | CREATE (s)-[:FIRST_CHUNK]->(x))
RETURN count(s) AS switched`;

/**
 * One clean-up batch: up to `$limit` chunks of the document that are not of generation `$keep` (the old
 * generation after a switch, what an interrupted run left; `$keep` -1 for a document with no visible version).
 * When fewer remain, the same transaction clears the Document's `pendingCleanup` and `stagedGeneration`,
 * and removes a tombstone or STAGED node left for this id.
 */
const COLLECT_GARBAGE = `
OPTIONAL MATCH (c:Chunk {documentId: $id}) WHERE c.generation <> $keep
WITH c LIMIT $limit
DETACH DELETE c
WITH count(c) AS deleted
OPTIONAL MATCH (d:Document {id: $id}) WHERE deleted < $limit AND d.generation = $keep
REMOVE d.pendingCleanup, d.stagedGeneration
WITH DISTINCT deleted
OPTIONAL MATCH (t:${TOMBSTONE} {id: $id}) WHERE deleted < $limit
DETACH DELETE t
WITH DISTINCT deleted
OPTIONAL MATCH (s:${STAGED} {id: $id}) WHERE deleted < $limit
DETACH DELETE s
RETURN DISTINCT deleted`;

/**
 * Deletes a document at constant size: its FIRST_CHUNK goes and the node becomes a tombstone (no longer a
 * `:Document`) that keeps the highest generation any of its chunks can have; its chunks are then removed in
 * batches and the tombstone last.
 */
const TOMBSTONE_DOCUMENT = `
MATCH (d:Document {id: $id})
OPTIONAL MATCH (d)-[fc:FIRST_CHUNK]->()
DELETE fc
WITH DISTINCT d
REMOVE d:Document
SET d:${TOMBSTONE},
    d.generation = CASE WHEN coalesce(d.stagedGeneration, 0) > d.generation THEN d.stagedGeneration
                        ELSE d.generation END
RETURN count(d) AS n`;

/**
 * One batch of a deleted document's chunks (those at or below its last generation; all of them when there
 * is no tombstone); when fewer remain, the tombstone and any STAGED node for this id go too.
 */
const COLLECT_DELETED = `
OPTIONAL MATCH (t:${TOMBSTONE} {id: $id})
WITH max(t.generation) AS last
OPTIONAL MATCH (c:Chunk {documentId: $id}) WHERE last IS NULL OR c.generation <= last
WITH c LIMIT $limit
DETACH DELETE c
WITH count(c) AS deleted
OPTIONAL MATCH (t:${TOMBSTONE} {id: $id}) WHERE deleted < $limit
DETACH DELETE t
WITH DISTINCT deleted
OPTIONAL MATCH (s:${STAGED} {id: $id}) WHERE deleted < $limit
DETACH DELETE s
RETURN DISTINCT deleted`;

/**
 * Old chunks a group statement removes per document beyond its new chunk count (at most one batch): an
 * update of similar size is cleaned up inside its own transaction; a larger old version is left to the
 * clean-up after it.
 */
const EXTRA_DELETES_PER_DOCUMENT = 64;

interface Row {
  id: string;
  index: number;
  text: string;
  start: number;
  end: number;
}

export function makeNeo4jGraphWriter(access: Neo4jAccess, options: GraphWriterOptions): GraphWriter {
  const now = options.clock ?? systemClock;
  let schema: Promise<void> | undefined;

  /**
   * Runs a managed write; executeWrite already retries transient errors, so no retry wraps it. A retryable
   * failure after a transaction had begun carries `duringStatement`: the server failed (or went away) while
   * running this work, which an outage that refuses the connection never reaches (see
   * shared/pipeline/repeated-failure.ts).
   */
  const inSession = <T>(mode: 'read' | 'write', work: (tx: ManagedTransaction) => Promise<T>): Promise<T> => {
    let began = false;
    const tracked = (tx: ManagedTransaction): Promise<T> => {
      began = true;
      return work(tx);
    };
    return access
      .withDriver(async (driver: Driver) => {
        const session = driver.session(access.database ? { database: access.database } : {});
        try {
          return await (mode === 'write' ? session.executeWrite(tracked) : session.executeRead(tracked));
        } finally {
          await session.close();
        }
      })
      .catch((err: unknown) => {
        const e = classifyNeo4jError(err);
        if (!e) throw err;
        throw began && e.retryable && !isLeaseLost(e) ? withDetails(e, { duringStatement: true }) : e;
      });
  };
  const write = <T>(work: (tx: ManagedTransaction) => Promise<T>): Promise<T> => inSession('write', work);
  const read = <T>(work: (tx: ManagedTransaction) => Promise<T>): Promise<T> => inSession('read', work);

  const ensureSchema = (): Promise<void> => {
    schema ??= (async () => {
      // The usual case, on every process's first write: the schema exists, and one read says so (the
      // three creates are three write transactions, each a few round trips to a remote server). A server
      // that refuses the read (a user without the SHOW INDEX privilege) gets the creates, as does a new one.
      // A Neo4j that cannot be reached does not: the creates would only run the connect retries again.
      const present = await read(async (tx) => {
        const res = await tx.run(COUNT_SCHEMA_INDEXES, { names: SCHEMA_INDEX_NAMES });
        return Number(res.records[0]?.get('n') ?? 0);
      }).catch((err: unknown) => {
        if (isGraphmillError(err) && err.retryable) throw err;
        return 0;
      });
      if (present === SCHEMA_INDEX_NAMES.length) return;
      for (const statement of SCHEMA) await write((tx) => tx.run(statement));
    })().catch((err: unknown) => {
      schema = undefined;
      throw err;
    });
    return schema;
  };

  /**
   * Locks the Document and checks that it is where this run found it: at generation `expected`, or absent
   * (`'new'`). `alreadyWritten` means this very write (same token) has committed before: the driver retried
   * a transaction whose COMMIT reached Neo4j but whose reply was lost, so the retry must change nothing.
   */
  const lockDocument = async (
    tx: ManagedTransaction,
    id: string,
    expected: number | 'new',
    token: string | undefined,
  ): Promise<{ alreadyWritten: boolean }> => {
    const res = await tx.run(LOCK_DOCUMENT, { id, now: now() });
    const r = res.records[0];
    if (r && token !== undefined && r.get('writeToken') === token) return { alreadyWritten: true };
    const found = r ? Number(r.get('generation') ?? 0) : 'new';
    if (found !== expected) {
      // Another run committed (or deleted) since this one started: its lease must have expired.
      throw leaseLost(
        `Document ${id} changed underneath this run (generation ${String(found)}, expected ${String(expected)})`,
        { details: { documentId: id } },
      );
    }
    return { alreadyWritten: false };
  };

  const toRows = (documentId: string, generation: number, chunks: readonly Chunk[]): Row[] =>
    chunks.map((c) => ({
      id: chunkId(documentId, generation, c.index),
      index: c.index,
      text: c.text,
      start: c.start,
      end: c.end,
    }));

  const docProps = (meta: DocumentMeta): Record<string, unknown> => ({
    title: meta.title ?? null,
    source: meta.source,
    contentHash: meta.contentHash,
    chunkSize: meta.chunkSize,
    chunkOverlap: meta.chunkOverlap,
    writeToken: meta.writeToken ?? null,
    updatedAt: new Date(now()).toISOString(),
  });

  const deleteLimit = neo4j.int(options.deleteBatchSize ?? options.batchSize);
  const extraDeletes = Math.min(EXTRA_DELETES_PER_DOCUMENT, options.batchSize);

  /**
   * Removes, in transactions of at most `deleteBatchSize` chunks, every chunk of the document that is not of
   * generation `keep` (the generation before a switch, leftovers of an interrupted run), then clears the
   * Document's `pendingCleanup` flag.
   */
  const collectGarbage = async (id: string, keep: number): Promise<void> => {
    for (;;) {
      const deleted = await write(async (tx) => {
        const res = await tx.run(COLLECT_GARBAGE, { id, keep, limit: deleteLimit });
        return Number(res.records[0]?.get('deleted') ?? 0);
      });
      if (deleted < deleteLimit.toNumber()) return;
    }
  };

  /**
   * Whether the Document exists, its committed generation (when it does not: a deleted one's last
   * generation while its tombstone remains, else 0), whether a clean-up is pending, and its version.
   */
  const readDocument = (
    id: string,
  ): Promise<{
    exists: boolean;
    generation: number;
    pendingCleanup: boolean;
    version: DocumentVersion | undefined;
  }> =>
    read(async (tx) => {
      const res = await tx.run(
        `OPTIONAL MATCH (t:${TOMBSTONE} {id: $id})
         WITH max(t.generation) AS deletedGeneration
         OPTIONAL MATCH (d:Document {id: $id})
         RETURN d IS NOT NULL AS exists, coalesce(d.generation, deletedGeneration, 0) AS generation,
                d.contentHash AS contentHash, d.chunkSize AS chunkSize, d.chunkOverlap AS chunkOverlap,
                d.chunkCount AS chunkCount, d.pendingCleanup AS pendingCleanup`,
        { id },
      );
      const r = res.records[0];
      const exists = r?.get('exists') === true;
      const generation = Number(r?.get('generation') ?? 0);
      return {
        exists,
        generation,
        pendingCleanup: r?.get('pendingCleanup') === true,
        version:
          r && exists && generation > 0 && r.get('contentHash') !== null
            ? {
                generation,
                contentHash: String(r.get('contentHash')),
                chunkSize: Number(r.get('chunkSize')),
                chunkOverlap: Number(r.get('chunkOverlap')),
                chunkCount: Number(r.get('chunkCount')),
              }
            : undefined,
      };
    });

  /**
   * The constant-size switch to `generation`, whose `chunkCount` chunks were staged: under the document's
   * lock, checks that no other run moved the document on and that every staged chunk is there (a read that
   * holds nothing in memory), then moves FIRST_CHUNK and the properties; a new document's STAGED node
   * becomes its `:Document`.
   */
  const switchTo = async (
    tx: ManagedTransaction,
    meta: DocumentMeta,
    previous: number | 'new',
    generation: number,
    chunkCount: number,
  ): Promise<void> => {
    if ((await lockDocument(tx, meta.id, previous, meta.writeToken)).alreadyWritten) return;
    const staged = await tx.run(COUNT_GENERATION, { id: meta.id, generation });
    const found = Number(staged.records[0]?.get('n') ?? -1);
    if (found !== chunkCount) {
      // Rolls the switch back: the previous version stays visible.
      throw leaseLost(
        `Document ${meta.id}: ${found} chunks of generation ${generation} found, ${chunkCount} written`,
        { details: { documentId: meta.id } },
      );
    }
    const params = {
      id: meta.id,
      generation,
      chunkCount,
      firstId: chunkCount > 0 ? chunkId(meta.id, generation, 0) : null,
      props: docProps(meta),
    };
    if (previous !== 'new') {
      await tx.run(SWITCH, params);
      return;
    }
    const res = await tx.run(SWITCH_NEW, params);
    if (Number(res.records[0]?.get('switched') ?? 0) !== 1) {
      throw leaseLost(`Document ${meta.id}: its staged version is gone`, {
        details: { documentId: meta.id },
      });
    }
  };

  const replaceDocuments = async (docs: readonly DocumentWrite[]): Promise<DocumentWriteResult[]> => {
    const seen = new Set<string>();
    for (const d of docs) {
      if (d.chunks.length === 0 || d.chunks.length > options.batchSize) {
        throw new Error(
          `writeDocuments: document ${d.meta.id} has ${d.chunks.length} chunks; a group takes 1 to ${options.batchSize}`,
        );
      }
      if (seen.has(d.meta.id)) throw new Error(`writeDocuments: document ${d.meta.id} is given twice`);
      seen.add(d.meta.id);
    }
    if (docs.length === 0) return [];
    const params = {
      now: now(),
      deleteScan: neo4j.int(options.batchSize + extraDeletes),
      extraDeletes,
      docs: docs.map((d) => ({
        id: d.meta.id,
        skipIfUnchanged: d.skipIfUnchanged === true,
        props: docProps(d.meta),
        rows: d.chunks.map((c) => ({ index: c.index, text: c.text, start: c.start, end: c.end })),
      })),
    };
    const written = await write(async (tx) => {
      const res = await tx.run(REPLACE_DOCUMENTS, params);
      const byId = new Map(res.records.map((r) => [String(r.get('id')), r]));
      return docs.map((d) => {
        const r = byId.get(d.meta.id);
        if (!r) throw new Error(`writeDocuments: no result for document ${d.meta.id}`);
        return {
          result: {
            id: d.meta.id,
            outcome: r.get('outcome') === 'unchanged' ? 'unchanged' : 'written',
            generation: Number(r.get('generation')),
            chunkCount: Number(r.get('chunkCount') ?? 0),
          } satisfies DocumentWriteResult,
          pendingCleanup: r.get('pendingCleanup') === true,
        };
      });
    });
    // What the statement left behind (an old version larger than its bound, a crash's leftovers) goes now,
    // in batches; until it has, it is a generation the Document does not point to.
    for (const w of written) {
      if (w.pendingCleanup) await collectGarbage(w.result.id, w.result.generation);
    }
    return written.map((w) => w.result);
  };

  return {
    batchSize: options.batchSize,
    ensureSchema,

    async writeDocuments(docs) {
      await ensureSchema();
      return replaceDocuments(docs);
    },

    async currentVersion(documentId) {
      await ensureSchema();
      return (await readDocument(documentId)).version;
    },

    async writeDocument(meta, chunks, onProgress, writeOptions = {}) {
      const skipIfUnchanged = writeOptions.skipIfUnchanged === true;
      await ensureSchema();
      const iterator = chunks[Symbol.iterator]();
      const nextBatch = (): Chunk[] => {
        const batch: Chunk[] = [];
        while (batch.length < options.batchSize) {
          const n = iterator.next();
          if (n.done) break;
          batch.push(n.value);
        }
        return batch;
      };

      let batch = nextBatch();
      let following = nextBatch();

      if (following.length === 0 && batch.length > 0) {
        // Small document: one statement in one transaction, no read before it (the statement takes the
        // document's lock, and reads the generation and decides "unchanged" under it).
        const [result] = await replaceDocuments([{ meta, chunks: batch, skipIfUnchanged }]);
        if (!result) throw new Error(`writeDocument: no result for document ${meta.id}`);
        return result.outcome === 'unchanged'
          ? { chunkCount: result.chunkCount, generation: result.generation, unchanged: true }
          : { chunkCount: batch.length, generation: result.generation };
      }

      const held = await readDocument(meta.id);
      if (skipIfUnchanged && held.version && isSameContent(held.version, meta)) {
        // An earlier run switched to this content and stopped before its clean-up finished.
        if (held.pendingCleanup) await collectGarbage(meta.id, held.generation);
        return { chunkCount: held.version.chunkCount, generation: held.generation, unchanged: true };
      }
      const previous = held.exists ? held.generation : 'new';
      const generation = held.generation + 1;

      // What interrupted runs (or a delete) left goes first, completely, so the staged generation's ids are
      // free and a document that succeeds after failures gets the same chunk ids as one that succeeded the
      // first time. Then the Document (a new one: a STAGED node) is flagged, so that whatever this run leaves
      // is found by the next one.
      await collectGarbage(meta.id, held.exists ? held.generation : -1);
      const begun = await write(async (tx) => {
        if (previous === 'new') {
          const res = await tx.run(BEGIN_STAGING_NEW, { id: meta.id, generation });
          if (Number(res.records[0]?.get('staged') ?? 0) === 1) return true;
        }
        if ((await lockDocument(tx, meta.id, previous, meta.writeToken)).alreadyWritten) return false;
        await tx.run(BEGIN_STAGING, { id: meta.id, generation });
        return true;
      });
      if (!begun) {
        // This very write (same token) already switched the document: nothing to stage, nothing to remove.
        return { chunkCount: held.version?.chunkCount ?? 0, generation: held.generation };
      }

      // Stage the new generation in batches (empty document: none), then switch in one transaction.
      let written = 0;
      let previousId: string | null = null;
      while (batch.length > 0) {
        const rows = toRows(meta.id, generation, batch);
        await write(async (tx) => {
          // A retry after a lost COMMIT reply finds its batch already there (leftovers of earlier runs were
          // removed before staging began, so an existing first chunk can only be this run's).
          const existing = await tx.run('MATCH (c:Chunk {id: $id}) RETURN count(c) AS n', {
            id: rows[0]?.id,
          });
          if (Number(existing.records[0]?.get('n') ?? 0) > 0) return;
          await tx.run(CREATE_CHUNKS, { rows, documentId: meta.id, generation, previousId });
        });
        written += rows.length;
        previousId = rows.at(-1)?.id ?? previousId;
        await onProgress?.({ chunksWritten: written, textOffset: batch.at(-1)?.end ?? 0 });
        batch = following;
        following = nextBatch();
      }
      await write((tx) => switchTo(tx, meta, previous, generation, written));
      await collectGarbage(meta.id, generation);
      return { chunkCount: written, generation };
    },

    async deleteDocument(documentId) {
      await ensureSchema();
      // The tombstone makes the removal atomic for readers at constant size; the chunks go in batches.
      const existed = await write(async (tx) => {
        const res = await tx.run(TOMBSTONE_DOCUMENT, { id: documentId });
        return Number(res.records[0]?.get('n') ?? 0) > 0;
      });
      for (;;) {
        const deleted = await write(async (tx) => {
          const res = await tx.run(COLLECT_DELETED, { id: documentId, limit: deleteLimit });
          return Number(res.records[0]?.get('deleted') ?? 0);
        });
        if (deleted < deleteLimit.toNumber()) return existed;
      }
    },
  };
}
