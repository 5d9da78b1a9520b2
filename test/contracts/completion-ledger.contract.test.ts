/** The CompletionLedger contract, run against every adapter (see subjects.ts). */
import { FirestoreCompletionLedger } from '../../shared/adapters/firestore/completion-ledger';
import { SqliteCompletionLedger } from '../../shared/adapters/sqlite/completion-ledger';
import { completionIdFor } from '../../shared/tracking/ids';
import { InMemoryCompletionLedger } from '../../shared/adapters/memory/completion-ledger';
import type { CompletionRecord } from '../../shared/tracking/types';
import type { CompletionLedger } from '../../shared/ports/completion-ledger';
import { describeContract, type Subject } from './subjects';

const T0 = 1_700_000_000_000;
/** The adapter with a native recordMany (one transaction); the others have only `record`. */
const BATCHED_ADAPTER = 'SqliteCompletionLedger';

describeContract(
  'CompletionLedger',
  {
    memory: { name: 'InMemoryCompletionLedger', make: () => new InMemoryCompletionLedger() },
    sqlite: { name: BATCHED_ADAPTER, make: (db) => new SqliteCompletionLedger(db) },
    firestore: {
      name: 'FirestoreCompletionLedger',
      make: (firestore) => new FirestoreCompletionLedger(firestore),
    },
  },
  completionLedgerContract,
);

/** A completion with a deterministic id, as the tracker builds it. */
function completion(
  over: Partial<CompletionRecord> & { documentId: string; occurredAt: number },
): CompletionRecord {
  const base = { phase: 'ingest', status: 'succeeded' as const, ...over };
  return {
    completionId: completionIdFor({
      documentId: base.documentId,
      phase: base.phase,
      batchId: base.batchId,
      status: base.status,
      discriminator: String(base.occurredAt),
    }),
    ...base,
  };
}

function completionLedgerContract(subject: Subject<CompletionLedger>): void {
  let store: CompletionLedger;
  let other: CompletionLedger;
  let cleanup: () => Promise<void>;

  beforeEach(() => {
    ({ store, other, cleanup } = subject.make());
  });
  afterEach(() => cleanup());

  it('records a completion and reads it back', async () => {
    const r = completion({
      documentId: 'docs/a.md',
      batchId: 'batch-1',
      occurredAt: T0,
      chunkCount: 3,
      contentHash: 'h1',
      durationMs: 12.5,
      attempt: 1,
      functionName: 'orchestrate',
      correlationId: 'corr-1',
    });
    await store.record(r);
    expect(await other.get(r.completionId)).toEqual(r);
    expect(await other.get('missing')).toBeUndefined();
    expect(await other.aggregate('docs/a.md', 'ingest')).toEqual({
      documentId: 'docs/a.md',
      phase: 'ingest',
      status: 'succeeded',
      lastCompletionId: r.completionId,
      completions: 1,
      firstOccurredAt: T0,
      lastOccurredAt: T0,
    });
    expect(await store.aggregate('docs/a.md', 'other-phase')).toBeUndefined();
  });

  it('is idempotent: the same completionId twice (even concurrently) is one record, counted once', async () => {
    const r = completion({ documentId: 'doc-1', occurredAt: T0 });
    await store.record(r);
    await other.record(r);
    // A redelivery carrying different values keeps the first record: the id names the completion.
    await other.record({ ...r, durationMs: 999 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? store : other).record(r)));
    expect(await store.list()).toEqual([r]);
    expect((await other.aggregate('doc-1', 'ingest'))?.completions).toBe(1);
  });

  it('keeps the latest completion in the aggregate, whatever the arrival order', async () => {
    const failed = completion({ documentId: 'doc-1', status: 'failed', occurredAt: T0, errorCode: 'x' });
    const succeeded = completion({ documentId: 'doc-1', occurredAt: T0 + 10 });
    const older = completion({ documentId: 'doc-1', status: 'failed', occurredAt: T0 - 10 });

    await store.record(succeeded);
    await other.record(failed);
    await store.record(older);
    expect(await other.aggregate('doc-1', 'ingest')).toEqual({
      documentId: 'doc-1',
      phase: 'ingest',
      status: 'succeeded',
      lastCompletionId: succeeded.completionId,
      completions: 3,
      firstOccurredAt: T0 - 10,
      lastOccurredAt: T0 + 10,
    });
  });

  it('breaks a tie on occurredAt by completionId, the same rule as foldAggregate', async () => {
    const [a, b] = [
      completion({ documentId: 'doc-1', status: 'failed', occurredAt: T0 }),
      completion({ documentId: 'doc-1', status: 'succeeded', occurredAt: T0 }),
    ].sort((x, y) => (x.completionId < y.completionId ? -1 : 1)) as [CompletionRecord, CompletionRecord];
    await store.record(b);
    await store.record(a);
    expect(await other.aggregate('doc-1', 'ingest')).toMatchObject({
      lastCompletionId: b.completionId,
      status: b.status,
      completions: 2,
    });
  });

  it('keeps one aggregate per document and phase under concurrent writes', async () => {
    const records = Array.from({ length: 10 }, (_, i) =>
      completion({ documentId: 'doc-1', occurredAt: T0 + i }),
    );
    await Promise.all(records.map((r, i) => (i % 2 ? store : other).record(r)));
    expect(await store.aggregate('doc-1', 'ingest')).toMatchObject({
      completions: 10,
      firstOccurredAt: T0,
      lastOccurredAt: T0 + 9,
      lastCompletionId: records[9]?.completionId,
    });
  });

  it('lists by document, batch, phase and time window, ordered by occurredAt then id, with a limit', async () => {
    const rows = [
      completion({ documentId: 'a', batchId: 'b1', occurredAt: T0 + 3 }),
      completion({ documentId: 'a', batchId: 'b1', phase: 'embed', occurredAt: T0 + 1 }),
      completion({ documentId: 'b', batchId: 'b1', occurredAt: T0 + 2 }),
      completion({ documentId: 'b', occurredAt: T0 + 4 }),
      completion({ documentId: 'c', batchId: 'b2', status: 'failed', occurredAt: T0 + 2 }),
    ];
    for (const r of rows) await store.record(r);
    const ids = (list: CompletionRecord[]) => list.map((r) => `${r.documentId}@${r.occurredAt - T0}`);

    const tied = [rows[2], rows[4]].sort((x, y) =>
      (x?.completionId ?? '') < (y?.completionId ?? '') ? -1 : 1,
    );
    expect(ids(await other.list())).toEqual(['a@1', ...ids(tied as CompletionRecord[]), 'a@3', 'b@4']);
    expect(ids(await other.list({ documentId: 'a' }))).toEqual(['a@1', 'a@3']);
    expect(ids(await other.list({ batchId: 'b1' }))).toEqual(['a@1', 'b@2', 'a@3']);
    expect(ids(await other.list({ phase: 'embed' }))).toEqual(['a@1']);
    expect(ids(await other.list({ documentId: 'a', phase: 'ingest' }))).toEqual(['a@3']);
    expect(ids(await other.list({ batchId: 'b1', since: T0 + 2, until: T0 + 3 }))).toEqual(['b@2']);
    expect(ids(await other.list({ since: T0 + 3 }))).toEqual(['a@3', 'b@4']);
    expect(ids(await other.list({ limit: 2 }))).toHaveLength(2);
    expect(ids(await other.list({ documentId: 'a', limit: 1 }))).toEqual(['a@1']);
    expect(await other.list({ documentId: 'nobody' })).toEqual([]);
  });

  // recordMany is optional on the port; only the adapter that has it is held to it here.
  if (subject.name.startsWith(BATCHED_ADAPTER)) {
    describe('recordMany', () => {
      const batch = () => {
        const first = completion({ documentId: 'doc-1', status: 'failed', occurredAt: T0, errorCode: 'x' });
        return [
          completion({ documentId: 'doc-2', batchId: 'b1', occurredAt: T0 + 5, chunkCount: 2 }),
          first,
          completion({ documentId: 'doc-1', occurredAt: T0 + 10, chunkCount: 4 }),
          // A redelivery in the same batch, with different values: the first one stays, counted once.
          { ...first, durationMs: 999 },
          completion({ documentId: 'doc-1', phase: 'embed', occurredAt: T0 + 1 }),
        ];
      };

      it('records like record one by one: same records, duplicates counted once, aggregates folded', async () => {
        const records = batch();
        expect(typeof store.recordMany).toBe('function');
        await store.recordMany?.(records);

        const fresh = subject.make();
        try {
          for (const r of records) await fresh.store.record(r);
          expect(await other.list()).toEqual(await fresh.store.list());
          for (const [doc, phase] of [
            ['doc-1', 'ingest'],
            ['doc-1', 'embed'],
            ['doc-2', 'ingest'],
          ] as const) {
            expect(await other.aggregate(doc, phase)).toEqual(await fresh.store.aggregate(doc, phase));
          }
        } finally {
          await fresh.cleanup();
        }

        expect(await other.list()).toHaveLength(4);
        expect(await other.get(records[1]?.completionId ?? '')).toEqual(records[1]);
        expect(await other.aggregate('doc-1', 'ingest')).toEqual({
          documentId: 'doc-1',
          phase: 'ingest',
          status: 'succeeded',
          lastCompletionId: records[2]?.completionId,
          completions: 2,
          firstOccurredAt: T0,
          lastOccurredAt: T0 + 10,
        });
        expect((await other.aggregate('doc-1', 'embed'))?.completions).toBe(1);
      });

      it('skips records already recorded, and an empty list writes nothing', async () => {
        const records = batch();
        await store.record(records[0] as CompletionRecord);
        await store.recordMany?.([]);
        expect(await other.list()).toEqual([records[0]]);
        await store.recordMany?.(records);
        await other.recordMany?.(records);
        expect(await other.list()).toHaveLength(4);
        expect((await other.aggregate('doc-2', 'ingest'))?.completions).toBe(1);
        expect((await other.aggregate('doc-1', 'ingest'))?.completions).toBe(2);
      });

      it('is all or nothing: a record that cannot be written leaves none of the batch behind', async () => {
        const records = batch();
        // A record without a document id cannot be bound as a SQLite parameter: the transaction fails
        // after the records before it were written inside it.
        const broken = { ...completion({ documentId: 'doc-3', occurredAt: T0 }), documentId: undefined };
        await expect(
          store.recordMany?.([...records.slice(0, 3), broken as unknown as CompletionRecord]),
        ).rejects.toThrow();
        expect(await other.list()).toEqual([]);
        expect(await other.aggregate('doc-1', 'ingest')).toBeUndefined();
        await store.recordMany?.(records);
        expect(await other.list()).toHaveLength(4);
      });
    });
  }
}
