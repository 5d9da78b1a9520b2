/**
 * The Neo4j graph writer against a real Neo4j, beyond the GraphWriter contract it also runs
 * (graph-writer-contract.int.test.ts): closing the access, the schema, atomic visibility under failure and
 * under a concurrent reader, a group the server refuses, bounded transactions, and tombstones.
 */
import { randomUUID } from 'node:crypto';
import neo4j, { type Driver } from 'neo4j-driver';
import { chunkText, iterateChunks, type Chunk } from '../../shared/chunking';
import { dependencyUnavailable } from '../../shared/errors';
import type { Neo4jAccess } from '../../shared/adapters/neo4j/access';
import { makeNeo4jGraphWriter, SCHEMA_INDEX_NAMES } from '../../shared/adapters/neo4j/graph-writer';
import type { DocumentMeta, GraphWriter } from '../../shared/ports/graph-writer';
import { makeCapturingLogger } from '../support/capturing-logger';
import { paragraph } from '../contracts/graph-writer.contract';
import { graphProblems, inspectDocument } from '../support/graph-inspect';
import { neo4jConnection, testNeo4jAccess } from '../support/neo4j';

const run = randomUUID().slice(0, 8);
const id = (name: string) => `it-${run}-${name}`;
const OPTS = { chunkSize: 80, chunkOverlap: 20 };

let driver: Driver;
let access: Neo4jAccess;
let writer: GraphWriter;

function meta(docId: string, text: string): DocumentMeta {
  return {
    id: docId,
    title: docId,
    source: 'inline:',
    contentHash: `h-${text.length}-${text.slice(0, 8)}`,
    ...OPTS,
  };
}

beforeAll(() => {
  const conn = neo4jConnection();
  driver = neo4j.driver(conn.uri, neo4j.auth.basic(conn.username, conn.password), {
    disableLosslessIntegers: true,
  });
  access = makeAccess();
  writer = makeNeo4jGraphWriter(access, { batchSize: 10 });
});

const makeAccess = testNeo4jAccess;

afterAll(async () => {
  const session = driver.session();
  try {
    await session.run('MATCH (n) WHERE n.id STARTS WITH $p OR n.documentId STARTS WITH $p DETACH DELETE n', {
      p: `it-${run}-`,
    });
  } finally {
    await session.close();
  }
  await access.close();
  await driver.close();
});

describe('Neo4jAccess.close', () => {
  /** A work function that holds the driver until `release()` is called, then runs one query. */
  const heldWork = (a: Neo4jAccess) => {
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const work = a.withDriver(async (d) => {
      await gate;
      const res = await d.executeQuery('RETURN 1 AS x');
      return res.records[0]?.get('x') as unknown;
    });
    return { work, release };
  };
  const settledWithin = async (p: Promise<unknown>, ms: number): Promise<boolean> => {
    let settled = false;
    void p.finally(() => (settled = true)).catch(() => undefined);
    await new Promise((r) => setTimeout(r, ms));
    return settled;
  };

  it('waits for work in flight before it closes the driver, so the work completes', async () => {
    const a = makeAccess({ closeGraceMs: 10_000 });
    await a.withDriver((d) => d.executeQuery('RETURN 1')); // built and verified
    const { work, release } = heldWork(a);
    const closing = a.close();
    expect(await settledWithin(closing, 200)).toBe(false);
    release();
    await expect(work).resolves.toBe(1);
    await closing;
  });

  it('refuses work that starts once close() has begun, so no driver is built that nothing closes', async () => {
    const a = makeAccess({ closeGraceMs: 10_000 });
    await a.withDriver((d) => d.executeQuery('RETURN 1'));
    const { work, release } = heldWork(a);
    const closing = a.close();
    await expect(a.withDriver((d) => d.executeQuery('RETURN 1'))).rejects.toMatchObject({
      code: 'dependency_unavailable',
    });
    expect(a.close()).toBe(closing); // one close, however often it is asked for
    release();
    await expect(work).resolves.toBe(1);
    await closing;
  });

  it('closes under work that outlasts the grace period, and says so', async () => {
    const logger = makeCapturingLogger();
    const a = makeAccess({ closeGraceMs: 150, logger });
    await a.withDriver((d) => d.executeQuery('RETURN 1'));
    const { work, release } = heldWork(a);
    const started = Date.now();
    await a.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(logger.entries).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: 'closing the Neo4j driver under work still in flight',
      }),
    ]);
    release();
    await expect(work).rejects.toThrow(); // its driver is closed
  });
});

describe('ensureSchema', () => {
  /** The same access, counting the transactions the writer opens; `firstFails` is what the first one throws. */
  const counting = (firstFails?: Error) => {
    let calls = 0;
    const wrapped: Neo4jAccess = {
      ...access,
      withDriver: (work) => {
        calls++;
        return firstFails && calls === 1 ? Promise.reject(firstFails) : access.withDriver(work);
      },
    };
    return { wrapped, calls: () => calls };
  };

  it('costs one read transaction when the schema exists (every process after the first)', async () => {
    await writer.ensureSchema();
    const c = counting();
    await makeNeo4jGraphWriter(c.wrapped, { batchSize: 10 }).ensureSchema();
    expect(c.calls()).toBe(1);
    const { records } = await driver.executeQuery(
      'SHOW INDEXES YIELD name, state WHERE name IN $names RETURN name, state ORDER BY name',
      { names: SCHEMA_INDEX_NAMES },
    );
    expect(records.map((r) => `${String(r.get('name'))} ${String(r.get('state'))}`)).toEqual(
      [...SCHEMA_INDEX_NAMES].sort().map((n) => `${n} ONLINE`),
    );
  });

  it('creates the schema (IF NOT EXISTS) when the read is refused', async () => {
    const c = counting(new Error('injected: SHOW INDEXES refused'));
    await makeNeo4jGraphWriter(c.wrapped, { batchSize: 10 }).ensureSchema();
    expect(c.calls()).toBe(1 + 3);
  });

  it('surfaces an unreachable Neo4j from the read, without trying the creates (each a new connect)', async () => {
    const unreachable = dependencyUnavailable('injected: Neo4j is unreachable', { retryAfterSeconds: 30 });
    const c = counting(unreachable);
    const w = makeNeo4jGraphWriter(c.wrapped, { batchSize: 10 });
    await expect(w.ensureSchema()).rejects.toBe(unreachable);
    expect(c.calls()).toBe(1);
    // Not remembered: the next call checks again, and finds the schema.
    await w.ensureSchema();
    expect(c.calls()).toBe(2);
  });
});

it('a failure in the middle of a large write keeps the previous version whole and the next run cleans up', async () => {
  const docId = id('interrupted');
  const v1 = paragraph(50, 'stable');
  await writer.writeDocument(meta(docId, v1), iterateChunks(v1, OPTS));
  const before = await inspectDocument(driver, docId);

  const v2 = paragraph(80, 'broken');
  function* failingAfter(n: number): Generator<Chunk> {
    let i = 0;
    for (const c of iterateChunks(v2, OPTS)) {
      if (i++ === n) throw new Error('injected failure while writing');
      yield c;
    }
  }
  await expect(writer.writeDocument(meta(docId, v2), failingAfter(35))).rejects.toThrow('injected failure');

  const during = await inspectDocument(driver, docId);
  // The document is flagged so that the next run cleans up even if it finds the content unchanged, and a
  // small write would not reuse the staged generation's ids.
  expect(during.document).toEqual({ ...before.document, pendingCleanup: true, stagedGeneration: 2 });
  expect(during.chunks).toEqual(before.chunks);
  expect(graphProblems({ ...during, allChunkNodes: before.allChunkNodes }, v1, OPTS.chunkSize)).toEqual([]);
  expect(during.allChunkNodes).toBeGreaterThan(before.allChunkNodes); // the unreferenced staged batches

  const res = await writer.writeDocument(meta(docId, v2), iterateChunks(v2, OPTS));
  expect(res.generation).toBe(2); // the interrupted generation number is reused, not skipped
  expect(graphProblems(await inspectDocument(driver, docId), v2, OPTS.chunkSize)).toEqual([]);
});

it('a concurrent reader never sees a half-written document in any committed state', async () => {
  const docId = id('watched');
  const versions = [paragraph(40, 'alpha'), paragraph(70, 'beta'), paragraph(30, 'gamma')];
  await writer.writeDocument(meta(docId, versions[0] as string), iterateChunks(versions[0] as string, OPTS));

  let writing = true;
  let reads = 0;
  const seen: string[] = [];
  const reader = (async () => {
    while (writing) {
      const g = await inspectDocument(driver, docId, { locked: true });
      reads++;
      const text = versions.find((v) => v.length > 0 && g.chunks[0] && v.startsWith(g.chunks[0].text));
      const problems =
        text === undefined
          ? ['unknown version']
          : graphProblems({ ...g, allChunkNodes: g.partOf }, text, OPTS.chunkSize);
      seen.push(...problems);
    }
  })();
  for (const v of [versions[1], versions[2], versions[1]] as string[]) {
    await writer.writeDocument(meta(docId, v), iterateChunks(v, OPTS));
  }
  writing = false;
  await reader;
  expect(reads).toBeGreaterThan(3);
  expect(seen).toEqual([]);
});

it('stores ids and text shaped like Cypher verbatim, as parameters', async () => {
  const witness = paragraph(4, 'witness');
  await writer.writeDocument(meta(id('witness'), witness), chunkText(witness, OPTS));
  const docId = id(`x'}) MATCH (n) DETACH DELETE n //`);
  const text = 'Robert\'); MATCH (n) DETACH DELETE n; -- "quoted" `backticks` $param {map: 1}';
  await writer.writeDocument(meta(docId, text), chunkText(text, OPTS));
  const g = await inspectDocument(driver, docId);
  expect(graphProblems(g, text, OPTS.chunkSize)).toEqual([]);
  expect((await inspectDocument(driver, id('witness'))).document).toBeDefined(); // nothing was deleted
});

it('stamps updatedAt with the injected clock, on the group path and the staged path', async () => {
  const at = Date.parse('2026-03-01T12:00:05.000Z');
  const w = makeNeo4jGraphWriter(access, { batchSize: 10, clock: () => at });
  const small = paragraph(3, 'clocked');
  await w.writeDocument(meta(id('clocked-small'), small), chunkText(small, OPTS));
  const large = paragraph(60, 'clocked');
  await w.writeDocument(meta(id('clocked-large'), large), iterateChunks(large, OPTS));
  for (const name of ['clocked-small', 'clocked-large']) {
    const g = await inspectDocument(driver, id(name));
    expect(g.document?.['updatedAt']).toBe('2026-03-01T12:00:05.000Z');
    expect(g.document?.['lockedAt']).toBeUndefined(); // the lock marker goes with the write
  }
});

describe('writeDocuments (group commit)', () => {
  const texts = (tag: string, n: number): [string, string][] =>
    Array.from({ length: n }, (_, i) => [id(`group-${tag}-${i}`), paragraph(2 + (i % 3), `${tag}${i}`)]);
  const writes = (docs: [string, string][]) =>
    docs.map(([docId, text]) => ({ meta: meta(docId, text), chunks: chunkText(text, OPTS) }));

  it('is all or nothing: a document the server refuses rolls the whole group back', async () => {
    const docs = texts('atomic', 3);
    const group = writes(docs);
    // A start offset Cypher cannot convert to an integer: the statement fails on the third document.
    const broken = group.map((w, i) =>
      i === 2 ? { ...w, chunks: w.chunks.map((c) => ({ ...c, start: [1, 2] as unknown as number })) } : w,
    );
    await expect(writer.writeDocuments(broken)).rejects.toThrow(/toInteger|Type mismatch|Invalid input/i);
    for (const [docId] of docs) expect((await inspectDocument(driver, docId)).document).toBeUndefined();
  });
});

describe('every transaction is bounded by the batch sizes, whatever the document (large updates)', () => {
  type Tx = Parameters<Parameters<ReturnType<Driver['session']>['executeWrite']>[0]>[0];

  /**
   * The access with every write transaction's `tx.run` replaced by `wrap(tx)`, and `done(tx)` called when
   * the transaction's work returns.
   */
  function withWrappedWrites(
    wrap: (tx: Tx) => Tx['run'],
    done: (tx: Tx) => void = () => undefined,
  ): Neo4jAccess {
    const wrapped = (d: Driver): Driver =>
      new Proxy(d, {
        get(target, prop, receiver) {
          if (prop !== 'session') return Reflect.get(target, prop, receiver) as unknown;
          return (...args: Parameters<Driver['session']>) => {
            const session = target.session(...args);
            const executeWrite = session.executeWrite.bind(session);
            session.executeWrite = (work, config) =>
              executeWrite(async (tx) => {
                const out = await work({ ...tx, run: wrap(tx) } as Tx);
                done(tx);
                return out;
              }, config);
            return session;
          };
        },
      });
    return { ...access, withDriver: (work) => access.withDriver((d) => work(wrapped(d))) };
  }

  /**
   * The graph changes (nodes and relationships created or deleted) of every write transaction the writer
   * runs, summed per transaction from the server's own counters.
   */
  function countingWriter(batchSize: number): { writer: GraphWriter; transactions: number[] } {
    const transactions: number[] = [];
    const changes = new Map<Tx, number>();
    const counted = withWrappedWrites(
      (tx) => (query, params) => {
        const result = tx.run(query, params);
        void result.summary().then((s) => {
          const u = s.counters.updates();
          const n = u.nodesCreated + u.nodesDeleted + u.relationshipsCreated + u.relationshipsDeleted;
          changes.set(tx, (changes.get(tx) ?? 0) + n);
        });
        return result;
      },
      (tx) => {
        transactions.push(changes.get(tx) ?? 0);
        changes.delete(tx);
      },
    );
    return { writer: makeNeo4jGraphWriter(counted, { batchSize }), transactions };
  }

  // A chunk costs at most 4 changes (the node, PART_OF, NEXT_CHUNK in and FIRST_CHUNK). With batches of 10,
  // a transaction creates at most 10 chunks, and deletes at most 20 (a small document's statement removes
  // up to its own count plus one batch of the old version); the documents below have 10 times as many.
  const BOUND = 4 * 10 + 4 * 20;
  const big = paragraph(300, 'big'); // ~100 chunks of 80 characters
  const big2 = paragraph(300, 'bigger');

  it('writes, rewrites, shrinks and deletes a 100-chunk document in transactions of about one batch', async () => {
    const docId = id('bounded');
    const { writer: w, transactions } = countingWriter(10);
    const first = await w.writeDocument(meta(docId, big), iterateChunks(big, OPTS));
    expect(first.chunkCount).toBeGreaterThan(80);
    const second = await w.writeDocument(meta(docId, big2), iterateChunks(big2, OPTS));
    expect(second.generation).toBe(2);
    expect(graphProblems(await inspectDocument(driver, docId), big2, OPTS.chunkSize)).toEqual([]);

    const small = paragraph(3, 'shrunk'); // one batch: the group statement, with a 300-chunk old version
    const third = await w.writeDocument(meta(docId, small), chunkText(small, OPTS));
    expect(third.generation).toBe(3);
    expect(graphProblems(await inspectDocument(driver, docId), small, OPTS.chunkSize)).toEqual([]);
    expect(await w.writeDocument(meta(docId, big), iterateChunks(big, OPTS))).toMatchObject({
      generation: 4,
    });

    expect(await w.deleteDocument(docId)).toBe(true);
    const gone = await inspectDocument(driver, docId);
    expect(gone.document).toBeUndefined();
    expect(gone.allChunkNodes).toBe(0);

    expect(transactions.length).toBeGreaterThan(40);
    // The counters count: a staged batch of 10 chunks makes at least 30 changes (nodes, PART_OF, NEXT_CHUNK).
    expect(Math.max(...transactions)).toBeGreaterThanOrEqual(30);
    expect(Math.max(...transactions)).toBeLessThanOrEqual(BOUND);
  });

  it('a run that stopped after its switch leaves the old generation flagged, and the next run removes it', async () => {
    const docId = id('switched-then-stopped');
    await writer.writeDocument(meta(docId, big), iterateChunks(big, OPTS));
    // The switch commits, then the clean-up's first transaction is refused (Neo4j went away).
    let cleanups = 0;
    const failing = withWrappedWrites((tx) => (query, params) => {
      if (
        typeof query === 'string' &&
        /DETACH DELETE c/.test(query) &&
        (params as { keep?: number })?.keep === 2
      ) {
        cleanups++;
        throw dependencyUnavailable('Neo4j went away (injected)');
      }
      return tx.run(query, params);
    });
    const stopping = makeNeo4jGraphWriter(failing, { batchSize: 10 });
    await expect(stopping.writeDocument(meta(docId, big2), iterateChunks(big2, OPTS))).rejects.toThrow(
      'injected',
    );
    expect(cleanups).toBe(1);
    const left = await inspectDocument(driver, docId);
    // Readers see the new version whole; the old generation's chunks are still there, and flagged.
    expect(graphProblems({ ...left, allChunkNodes: left.partOf }, big2, OPTS.chunkSize)).toEqual([]);
    expect(left.document?.['pendingCleanup']).toBe(true);
    expect(left.allChunkNodes).toBeGreaterThan(left.partOf);

    // The next run finds the content unchanged, and cleans up.
    const again = await writer.writeDocument(meta(docId, big2), iterateChunks(big2, OPTS), undefined, {
      skipIfUnchanged: true,
    });
    expect(again.unchanged).toBe(true);
    const clean = await inspectDocument(driver, docId);
    expect(graphProblems(clean, big2, OPTS.chunkSize)).toEqual([]);
    expect(clean.document?.['pendingCleanup']).toBeUndefined();
  });

  it('a document deleted while its clean-up was interrupted comes back with new chunk ids', async () => {
    const docId = id('deleted-then-back');
    await writer.writeDocument(meta(docId, big), iterateChunks(big, OPTS));
    // A delete that stopped after its first step: the tombstone and all the chunks are left.
    await driver.executeQuery(
      `MATCH (d:Document {id: $id}) OPTIONAL MATCH (d)-[f:FIRST_CHUNK]->() DELETE f
       WITH DISTINCT d REMOVE d:Document SET d:GraphmillDeletedDocument`,
      { id: docId },
    );
    expect((await inspectDocument(driver, docId)).document).toBeUndefined();

    const small = paragraph(3, 'reborn');
    const res = await writer.writeDocument(meta(docId, small), chunkText(small, OPTS));
    expect(res.generation).toBe(2); // continues the deleted one's generations
    const g = await inspectDocument(driver, docId);
    expect(graphProblems(g, small, OPTS.chunkSize)).toEqual([]);
    const tombstones = await driver.executeQuery(
      'MATCH (t:GraphmillDeletedDocument {id: $id}) RETURN count(t) AS n',
      { id: docId },
    );
    expect(tombstones.records[0]?.get('n')).toBe(0);
  });

  function* failingAfter(text: string, n: number): Generator<Chunk> {
    let i = 0;
    for (const c of iterateChunks(text, OPTS)) {
      if (i++ === n) throw new Error('injected failure while staging');
      yield c;
    }
  }

  it('a new large document has no Document node until its switch, and an interrupted one leaves none', async () => {
    const docId = id('new-staged');
    let staged = 0;
    const seen: (Record<string, unknown> | undefined)[] = [];
    await expect(
      writer.writeDocument(meta(docId, big), failingAfter(big, 35), async () => {
        staged++;
        seen.push((await inspectDocument(driver, docId)).document);
      }),
    ).rejects.toThrow('injected failure');
    expect(staged).toBeGreaterThan(1);
    expect(seen.every((d) => d === undefined)).toBe(true);
    const left = await inspectDocument(driver, docId);
    expect(left.document).toBeUndefined();
    expect(left.allChunkNodes).toBeGreaterThan(0); // hanging from a GraphmillStagedDocument node

    // The next run writes it whole, with the chunk ids a first-time success has.
    const res = await writer.writeDocument(meta(docId, big), iterateChunks(big, OPTS));
    expect(res.generation).toBe(1);
    const g = await inspectDocument(driver, docId);
    expect(graphProblems(g, big, OPTS.chunkSize)).toEqual([]);
    const rest = await driver.executeQuery(
      'MATCH (s:GraphmillStagedDocument {id: $id}) RETURN count(s) AS n',
      { id: docId },
    );
    expect(rest.records[0]?.get('n')).toBe(0);
  });

  it('a small write after an interrupted large one skips the staged generation and cleans up', async () => {
    for (const [name, first] of [
      ['existing', big],
      ['new', undefined],
    ] as const) {
      const docId = id(`small-after-${name}`);
      if (first) await writer.writeDocument(meta(docId, first), iterateChunks(first, OPTS));
      await expect(writer.writeDocument(meta(docId, big2), failingAfter(big2, 45))).rejects.toThrow(
        'injected',
      );
      const small = paragraph(3, `small-${name}`);
      const res = await writer.writeDocument(meta(docId, small), chunkText(small, OPTS));
      // Past the staged generation, whose chunks may not all go in the small write's own transaction.
      expect(res.generation).toBe(first ? 3 : 2);
      const g = await inspectDocument(driver, docId);
      expect(graphProblems(g, small, OPTS.chunkSize)).toEqual([]);
      expect(g.document?.['pendingCleanup']).toBeUndefined();
      expect(g.document?.['stagedGeneration']).toBeUndefined();
    }
  });
});
