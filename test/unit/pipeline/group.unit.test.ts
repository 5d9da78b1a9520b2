/**
 * Group commit (shared/pipeline/group.ts): many documents share status and graph transactions, and each
 * still gets the outcome, the status and the failure it would get alone. Run on the in-memory status store
 * (the batched forms fall back to single transitions) and on SQLite (claimMany / completeMany natively).
 */
import { openMemoryDatabase } from '../../../shared/adapters/sqlite/database';
import { SqliteStatusStore } from '../../../shared/adapters/sqlite/status-store';
import type { Chunk } from '../../../shared/chunking';
import { chunkText } from '../../../shared/chunking';
import { inlineSource, type FetchOptions } from '../../../shared/documents';
import type { DocumentSource } from '../../../shared/ports/document-source';
import { contentTooLarge, dependencyUnavailable, GraphmillError } from '../../../shared/errors';
import { silentLogger } from '../../../shared/logging';
import type { DocumentWrite, DocumentWriteResult } from '../../../shared/ports/graph-writer';
import { runDocumentGroup, type GroupResult } from '../../../shared/pipeline/group';
import type { DocumentRequest, PipelineDeps } from '../../../shared/pipeline/process-document';
import { type DocumentRecord } from '../../../shared/status';
import { InMemoryStatusStore } from '../../../shared/adapters/memory/status-store';
import type { StatusStore } from '../../../shared/ports/status-store';
import { MemoryGraphWriter } from '../../../shared/adapters/memory/graph-writer';

const CHUNKING = { chunkSize: 60, chunkOverlap: 10 };
/** The memory writer below is built with a write batch of 5 chunks; groups are written at >= 8. */
const BATCH = 5;
const GROUP = { maxGroupChunks: 8 };
const text = (id: string, sentences = 3): string =>
  Array.from({ length: sentences }, (_, i) => `Sentence ${i} of ${id} says something.`).join(' ');

/** Inline content, recording every fetch and the limit it was given. */
class RecordingSource implements DocumentSource {
  readonly schemes = ['inline:'];
  readonly fetches: { id: string; maxBytes: number }[] = [];
  failFor = new Map<string, Error>();
  fetch(record: DocumentRecord, options: FetchOptions): Promise<Uint8Array> {
    this.fetches.push({ id: record.id, maxBytes: options.maxBytes });
    const failure = this.failFor.get(record.id);
    if (failure) return Promise.reject(failure);
    return inlineSource.fetch(record, options);
  }
}

interface Harness {
  deps: PipelineDeps;
  status: StatusStore;
  graph: MemoryGraphWriter;
  source: RecordingSource;
  register(id: string, content: string): Promise<void>;
}

const stores: [string, () => StatusStore][] = [
  ['in-memory status store (single transitions)', () => new InMemoryStatusStore()],
  ['SQLite status store (batched transitions)', () => new SqliteStatusStore(openMemoryDatabase())],
];

describe.each(stores)('runDocumentGroup on the %s', (_name, makeStore) => {
  let h: Harness;
  beforeEach(() => {
    const status = makeStore();
    const graph = new MemoryGraphWriter(BATCH);
    const source = new RecordingSource();
    let now = 1_800_000_000_000;
    let run = 0;
    const deps: PipelineDeps = {
      status,
      source,
      graph,
      clock: () => (now += 3),
      logger: silentLogger,
      settings: { ...CHUNKING, leaseMs: 60_000, maxDocumentBytes: 64 * 1024 * 1024 },
      newRunId: () => `run-${++run}`,
    };
    h = {
      deps,
      status,
      graph,
      source,
      register: async (id, content) => {
        await status.register({ id, source: 'inline:', content }, 0);
      },
    };
  });

  const process = (ids: string[], action: DocumentRequest['action'] = 'process_document') =>
    runDocumentGroup(
      h.deps,
      ids.map((documentId) => ({ documentId, action })),
      GROUP,
    );
  const okStatus = (r: GroupResult | undefined) => (r?.ok ? r.outcome.status : `error:${r?.error.code}`);

  it('writes small documents several per transaction and completes each, results in input order', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const id of ids) await h.register(id, text(id));
    const results = await process(ids);

    expect(results.map(okStatus)).toEqual(ids.map(() => 'completed'));
    // Each document has 2-3 chunks; a group is written once it holds >= 8 chunks: fewer transactions than documents.
    expect(h.graph.groupWrites).toBeGreaterThan(0);
    expect(h.graph.groupWrites).toBeLessThan(ids.length);
    for (const [i, id] of ids.entries()) {
      const r = results[i];
      expect(r?.ok && r.outcome.documentId).toBe(id);
      const expected = chunkText(text(id), CHUNKING);
      expect(h.graph.documents.get(id)?.chunks.map((c) => c.text)).toEqual(expected.map((c) => c.text));
      const rec = await h.status.get(id);
      expect(rec).toMatchObject({ status: 'completed', chunkCount: expected.length, attempt: 1 });
      expect(rec?.leaseOwner).toBeUndefined();
      expect(rec?.contentHash).toMatch(/^sha256:/);
    }
  });

  it('skips unchanged documents in the write itself, and reprocess rewrites them', async () => {
    await h.register('a', text('a'));
    await h.register('b', text('b'));
    await process(['a', 'b']);
    const writes = h.graph.writes;

    await h.status.register({ id: 'b', source: 'inline:', content: text('b', 5) }, 1);
    const second = await process(['a', 'b']);
    expect(second.map(okStatus)).toEqual(['unchanged', 'completed']);
    expect(h.graph.writes).toBe(writes + 1);
    expect(h.graph.documents.get('a')?.version.generation).toBe(1);
    expect(await h.status.get('a')).toMatchObject({ status: 'completed', attempt: 2 });

    const third = await process(['a'], 'reprocess_document');
    expect(third.map(okStatus)).toEqual(['completed']);
    expect(h.graph.documents.get('a')?.version.generation).toBe(2);
  });

  it('answers not registered and leased documents with their own errors and goes on with the rest', async () => {
    await h.register('a', text('a'));
    await h.register('held', text('held'));
    const held = await h.status.claim('held', {
      owner: 'someone-else',
      leaseMs: 60_000,
      now: 1_800_000_000_000,
    });
    expect(held.outcome).toBe('claimed');

    const results = await process(['missing', 'held', 'a']);
    expect(results.map(okStatus)).toEqual(['error:not_found', 'error:lease_conflict', 'completed']);
    expect(await h.status.get('held')).toMatchObject({ status: 'processing', leaseOwner: 'someone-else' });
  });

  it('records a fetch failure and an undecodable document on the document, with their stage', async () => {
    await h.register('a', text('a'));
    await h.register('gone', text('gone'));
    await h.register('binary', 'binary\u0000content');
    h.source.failFor.set('gone', dependencyUnavailable('storage is down'));

    const results = await process(['gone', 'binary', 'a']);
    expect(results.map(okStatus)).toEqual([
      'error:dependency_unavailable',
      'error:unsupported_content',
      'completed',
    ]);
    expect(await h.status.get('gone')).toMatchObject({
      status: 'failed',
      error: { stage: 'fetching', code: 'dependency_unavailable', retryable: true },
    });
    expect(await h.status.get('binary')).toMatchObject({
      status: 'failed',
      error: { stage: 'chunking', code: 'unsupported_content', retryable: false },
    });
    expect(h.graph.documents.has('gone')).toBe(false);
    expect(h.graph.documents.has('binary')).toBe(false);
  });

  it('sends larger-than-a-batch and empty documents through the single-document path', async () => {
    const big = text('big', 30); // far more than batchSize (5) chunks
    await h.register('big', big);
    await h.register('empty', '');
    await h.register('a', text('a'));
    const writeDocument = jest.spyOn(h.graph, 'writeDocument');

    const results = await process(['big', 'empty', 'a']);
    expect(results.map(okStatus)).toEqual(['completed', 'completed', 'completed']);
    expect(writeDocument.mock.calls.map((c) => c[0].id)).toEqual(['big', 'empty']);
    expect(h.graph.documents.get('big')?.chunks).toHaveLength(chunkText(big, CHUNKING).length);
    expect(await h.status.get('big')).toMatchObject({ status: 'completed', progress: 100 });
    expect(h.graph.documents.get('empty')?.chunks).toHaveLength(0);
    // Each document is read once: the chunks come from the read the group made.
    expect(h.source.fetches.filter((f) => f.id === 'big')).toHaveLength(1);
  });

  it('writes the documents of a failed group one by one, so only the culprit fails', async () => {
    for (const id of ['a', 'b', 'c']) await h.register(id, text(id));
    const real = h.graph.writeDocuments.bind(h.graph);
    const groupSizes: number[] = [];
    jest.spyOn(h.graph, 'writeDocuments').mockImplementation((docs: readonly DocumentWrite[]) => {
      groupSizes.push(docs.length);
      if (docs.some((d) => d.meta.id === 'b')) {
        return Promise.reject(contentTooLarge('too large for the transaction memory'));
      }
      return real(docs);
    });

    const results = await process(['a', 'b', 'c']);
    expect(results.map(okStatus)).toEqual(['completed', 'error:content_too_large', 'completed']);
    expect(groupSizes).toEqual([3, 1, 1, 1]);
    expect(await h.status.get('b')).toMatchObject({
      status: 'failed',
      error: { stage: 'writing', code: 'content_too_large', retryable: false },
    });
    expect(h.graph.documents.has('b')).toBe(false);
    expect(h.graph.documents.has('c')).toBe(true);
  });

  it('fails a whole group at once when Neo4j is unavailable, without retrying document by document', async () => {
    for (const id of ['a', 'b', 'c']) await h.register(id, text(id));
    const calls = jest
      .spyOn(h.graph, 'writeDocuments')
      .mockRejectedValue(dependencyUnavailable('Neo4j is unavailable'));

    const results = await process(['a', 'b', 'c']);
    expect(results.map(okStatus)).toEqual([
      'error:dependency_unavailable',
      'error:dependency_unavailable',
      'error:dependency_unavailable',
    ]);
    expect(calls).toHaveBeenCalledTimes(1);
    for (const id of ['a', 'b', 'c']) {
      expect(await h.status.get(id)).toMatchObject({
        status: 'failed',
        error: { stage: 'writing', retryable: true },
      });
    }
  });

  it("stops writing once Neo4j is unavailable: the group's later documents fail with the same error", async () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const id of ids) await h.register(id, text(id));
    // What the Neo4j access reports after its connect retries: every later write would wait through its own.
    const down = dependencyUnavailable('Neo4j at db:7687 is unreachable', {
      details: { dependency: 'neo4j' },
    });
    const calls = jest.spyOn(h.graph, 'writeDocuments').mockRejectedValue(down);

    const results = await process(ids);
    // Six documents of 2-3 chunks are two writes of >= 8 chunks; the second is never sent.
    expect(calls).toHaveBeenCalledTimes(1);
    expect(results.map((r) => !r?.ok && r?.error)).toEqual(ids.map(() => down));
    for (const id of ids) {
      expect(await h.status.get(id)).toMatchObject({
        status: 'failed',
        error: { stage: 'writing', code: 'dependency_unavailable', retryable: true },
      });
    }
  });

  it('reports a document whose lease was taken over while it was written, and completes the others', async () => {
    for (const id of ['a', 'b']) await h.register(id, text(id));
    const real = h.graph.writeDocuments.bind(h.graph);
    jest.spyOn(h.graph, 'writeDocuments').mockImplementation(async (docs): Promise<DocumentWriteResult[]> => {
      const out = await real(docs);
      // Another run takes 'b' over (its lease expired) before this run completes it.
      await h.status.claim('b', { owner: 'other-run', leaseMs: 60_000, now: 1_900_000_000_000 });
      return out;
    });

    const results = await process(['a', 'b']);
    expect(results.map(okStatus)).toEqual(['completed', 'error:lease_lost']);
    expect(await h.status.get('a')).toMatchObject({ status: 'completed' });
    expect(await h.status.get('b')).toMatchObject({ status: 'processing', leaseOwner: 'other-run' });
  });

  it('marks the written documents failed (retryable) when the status store cannot complete them', async () => {
    for (const id of ['a', 'b']) await h.register(id, text(id));
    const storeDown = new Error('status store is down');
    if (h.status.completeMany) jest.spyOn(h.status, 'completeMany').mockRejectedValue(storeDown);
    else jest.spyOn(h.status, 'complete').mockRejectedValue(storeDown);

    const results = await process(['a', 'b']);
    expect(results.every((r) => !r.ok)).toBe(true);
    for (const id of ['a', 'b']) {
      expect(await h.status.get(id)).toMatchObject({ status: 'failed', error: { stage: 'recording' } });
    }
    // The graph holds them: the next run finds them unchanged and completes them.
    jest.restoreAllMocks();
    const again = await process(['a', 'b']);
    expect(again.map(okStatus)).toEqual(['unchanged', 'unchanged']);
  });

  it('fails only the document the status store could not complete', async () => {
    for (const id of ['a', 'b', 'c']) await h.register(id, text(id));
    const storeDown = new Error('status store is down for b');
    if (h.status.completeMany) {
      // One transaction: when it fails, none is completed and every document is failed (retryable).
      jest.spyOn(h.status, 'completeMany').mockRejectedValueOnce(storeDown);
      const results = await process(['a', 'b', 'c']);
      expect(results.map(okStatus)).toEqual(['error:internal', 'error:internal', 'error:internal']);
      for (const id of ['a', 'b', 'c']) {
        expect(await h.status.get(id)).toMatchObject({ status: 'failed', error: { stage: 'recording' } });
      }
      return;
    }
    const complete = h.status.complete.bind(h.status);
    jest
      .spyOn(h.status, 'complete')
      .mockImplementation((id, ...rest) => (id === 'b' ? Promise.reject(storeDown) : complete(id, ...rest)));
    const results = await process(['a', 'b', 'c']);
    expect(results.map(okStatus)).toEqual(['completed', 'error:internal', 'completed']);
    expect(await h.status.get('a')).toMatchObject({ status: 'completed' });
    expect(await h.status.get('b')).toMatchObject({ status: 'failed', error: { stage: 'recording' } });
  });

  it('reads ahead with a capped limit and reads a larger document again, in its turn, with the full limit', async () => {
    const cap = 4 << 20;
    const large = `${'Large document sentence. '.repeat(Math.ceil((cap + 10) / 25))}`;
    for (const [id, content] of [
      ['a', text('a')],
      ['large', large],
      ['b', text('b')],
    ] as const)
      await h.register(id, content);

    const results = await process(['a', 'large', 'b']);
    expect(results.map(okStatus)).toEqual(['completed', 'completed', 'completed']);
    const largeReads = h.source.fetches.filter((f) => f.id === 'large');
    expect(largeReads.map((f) => f.maxBytes)).toEqual([cap, h.deps.settings.maxDocumentBytes]);
    expect(h.source.fetches.filter((f) => f.id === 'b')).toHaveLength(1);
  });

  it('streams a document of several decode slices: the same chunks as the whole text', async () => {
    // Over 3 MiB with multi-byte characters, so slice boundaries fall inside characters.
    const big = 'Ünïcödé sentence number one — with “quotes”. 中文句子。\n\n'.repeat(60_000);
    await h.register('big', big);
    const progress: number[] = [];
    const realProgress = h.status.progress.bind(h.status);
    jest.spyOn(h.status, 'progress').mockImplementation(async (id, owner, stage, pct, now) => {
      if (stage === 'writing') progress.push(pct);
      return realProgress(id, owner, stage, pct, now);
    });

    const results = await process(['big']);
    expect(results.map(okStatus)).toEqual(['completed']);
    const written = h.graph.documents.get('big')?.chunks ?? [];
    const expected = chunkText(big, CHUNKING);
    expect(written.length).toBe(expected.length);
    expect(written).toEqual(expected);
    // Progress after the staged batches of a multi-batch document, rising, below 100: the completion
    // records the end.
    expect(progress.length).toBeGreaterThan(0);
    expect(progress).toEqual([...progress].sort((x, y) => x - y));
    expect(progress.every((p) => p < 100)).toBe(true);
    expect((await h.status.get('big'))?.progress).toBe(100);
  });

  it('runs deletes through the single path', async () => {
    await h.register('a', text('a'));
    await process(['a']);
    const results = await process(['a'], 'delete_document');
    expect(results.map(okStatus)).toEqual(['deleted']);
    expect(h.graph.documents.has('a')).toBe(false);
    expect(await h.status.get('a')).toBeUndefined();
  });
});

describe('MemoryGraphWriter.writeDocuments (the test double honours the port)', () => {
  const chunks = (s: string): Chunk[] => chunkText(s, CHUNKING);
  it('treats a repeated write token as already written', async () => {
    const g = new MemoryGraphWriter();
    const meta = { id: 'x', source: 'inline:', contentHash: 'h1', ...CHUNKING, writeToken: 't1' };
    await g.writeDocuments([{ meta, chunks: chunks(text('x')) }]);
    const again = await g.writeDocuments([{ meta, chunks: chunks(text('x')) }]);
    expect(again[0]).toMatchObject({ outcome: 'written', generation: 1 });
    expect(g.writes).toBe(1);
  });
  it('refuses an empty document and a repeated id', async () => {
    const g = new MemoryGraphWriter();
    const meta = { id: 'x', source: 'inline:', contentHash: 'h1', ...CHUNKING };
    await expect(g.writeDocuments([{ meta, chunks: [] }])).rejects.toThrow(
      /has 0 chunks; a group takes 1 to 1000/,
    );
    await expect(
      g.writeDocuments([
        { meta, chunks: chunks('a b c') },
        { meta, chunks: chunks('a b c') },
      ]),
    ).rejects.toThrow(/twice/);
    expect(g.documents.size).toBe(0);
  });
});

test('a group of one unregistered document answers with a GraphmillError, not a throw', async () => {
  const deps: PipelineDeps = {
    status: new InMemoryStatusStore(),
    source: new RecordingSource(),
    graph: new MemoryGraphWriter(BATCH),
    clock: () => 1,
    logger: silentLogger,
    settings: { ...CHUNKING, leaseMs: 1000, maxDocumentBytes: 1000 },
  };
  const [r] = await runDocumentGroup(deps, [{ documentId: 'nope', action: 'process_document' }], GROUP);
  expect(r?.ok).toBe(false);
  expect(!r?.ok && r?.error).toBeInstanceOf(GraphmillError);
});
