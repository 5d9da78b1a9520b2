/**
 * The StatusStore contract, run against every adapter (see subjects.ts): in-memory, SQLite in memory and
 * on disk (two store instances share one file like the CLI and `serve` do), and Firestore on the emulator.
 */
import { FirestoreStatusStore } from '../../shared/adapters/firestore/status-store';
import { SqliteStatusStore } from '../../shared/adapters/sqlite/status-store';
import { GraphmillError } from '../../shared/errors';
import { type CompletionUpdate } from '../../shared/status';
import { InMemoryStatusStore } from '../../shared/adapters/memory/status-store';
import type { StatusStore } from '../../shared/ports/status-store';
import { claimAll, completeAll, registerAll } from '../../shared/status/batch';
import { describeContract, type Subject } from './subjects';

const LEASE = 60_000;
const T0 = 1_700_000_000_000;
/** The adapter with native batched forms (registerMany, claimMany, completeMany); the others use the fallback. */
const BATCHED_ADAPTER = 'SqliteStatusStore';
const UPDATE: CompletionUpdate = {
  contentHash: 'h',
  chunkCount: 3,
  chunkSize: 10,
  chunkOverlap: 2,
  durationMs: 7,
};

describeContract(
  'StatusStore',
  {
    memory: { name: 'InMemoryStatusStore', make: () => new InMemoryStatusStore() },
    sqlite: { name: BATCHED_ADAPTER, make: (db) => new SqliteStatusStore(db) },
    firestore: { name: 'FirestoreStatusStore', make: (firestore) => new FirestoreStatusStore(firestore) },
  },
  statusStoreContract,
);

function statusStoreContract(subject: Subject<StatusStore>): void {
  let store: StatusStore;
  let other: StatusStore;
  let cleanup: () => Promise<void>;

  beforeEach(() => {
    ({ store, other, cleanup } = subject.make());
  });
  afterEach(() => cleanup());

  const register = (id = 'doc-1') => store.register({ id, source: 'inline:', content: 'hello' }, T0);

  it('registers a document as pending, and re-registering keeps its status', async () => {
    const r = await register();
    expect(r).toMatchObject({ id: 'doc-1', status: 'pending', attempt: 0, createdAt: T0 });
    await store.claim('doc-1', { owner: 'a', leaseMs: LEASE, now: T0 });
    const again = await store.register({ id: 'doc-1', source: 'inline:', content: 'changed' }, T0 + 5);
    expect(again.status).toBe('processing');
    expect(again.content).toBe('changed');
    expect(await other.get('doc-1')).toEqual(again);
  });

  it('claims with a lease and refuses a second owner while the lease is live', async () => {
    await register();
    const first = await store.claim('doc-1', { owner: 'a', leaseMs: LEASE, now: T0 });
    expect(first.outcome).toBe('claimed');
    if (first.outcome !== 'claimed') return;
    expect(first.record).toMatchObject({
      status: 'processing',
      leaseOwner: 'a',
      leaseExpiresAt: T0 + LEASE,
      attempt: 1,
    });
    expect(first.previous.status).toBe('pending');

    const second = await other.claim('doc-1', { owner: 'b', leaseMs: LEASE, now: T0 + LEASE - 1 });
    expect(second).toEqual({ outcome: 'leased', leaseOwner: 'a', leaseExpiresAt: T0 + LEASE });
    expect((await store.get('doc-1'))?.leaseOwner).toBe('a');
  });

  it('takes over an expired lease, and the old owner can no longer write', async () => {
    await register();
    await store.claim('doc-1', { owner: 'a', leaseMs: LEASE, now: T0 });
    const takeover = await other.claim('doc-1', { owner: 'b', leaseMs: LEASE, now: T0 + LEASE + 1 });
    expect(takeover.outcome).toBe('claimed');
    expect((await store.get('doc-1'))?.attempt).toBe(2);

    await expect(store.progress('doc-1', 'a', 'writing', 50, T0 + LEASE + 2)).rejects.toMatchObject({
      code: 'lease_lost',
    });
    await expect(
      store.complete(
        'doc-1',
        'a',
        { contentHash: 'h', chunkCount: 1, chunkSize: 10, chunkOverlap: 0, durationMs: 1 },
        T0,
      ),
    ).rejects.toBeInstanceOf(GraphmillError);
    await other.progress('doc-1', 'b', 'writing', 50, T0 + LEASE + 3);
    expect(await store.get('doc-1')).toMatchObject({ leaseOwner: 'b', stage: 'writing', progress: 50 });
  });

  it('lets exactly one of 20 concurrent claims win', async () => {
    await register();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? store : other).claim('doc-1', { owner: `run-${i}`, leaseMs: LEASE, now: T0 }),
      ),
    );
    const winners = results.filter((r) => r.outcome === 'claimed');
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'leased')).toHaveLength(19);
    expect((await store.get('doc-1'))?.attempt).toBe(1);
  });

  it('completes: clears the lease and any earlier error, records the result', async () => {
    await register();
    await store.claim('doc-1', { owner: 'a', leaseMs: LEASE, now: T0 });
    await store.fail(
      'doc-1',
      'a',
      { stage: 'writing', code: 'dependency_unavailable', message: 'down', retryable: true },
      T0 + 1,
    );
    expect(await store.get('doc-1')).toMatchObject({
      status: 'failed',
      error: { code: 'dependency_unavailable' },
    });
    expect((await store.get('doc-1'))?.leaseOwner).toBeUndefined();

    await store.claim('doc-1', { owner: 'b', leaseMs: LEASE, now: T0 + 2 });
    await store.complete(
      'doc-1',
      'b',
      { contentHash: 'h', chunkCount: 3, chunkSize: 10, chunkOverlap: 2, durationMs: 7 },
      T0 + 3,
    );
    const done = await other.get('doc-1');
    expect(done).toMatchObject({
      status: 'completed',
      chunkCount: 3,
      contentHash: 'h',
      progress: 100,
      attempt: 2,
      completedAt: T0 + 3,
    });
    expect(done?.error).toBeUndefined();
    expect(done?.leaseOwner).toBeUndefined();
    expect(done?.leaseExpiresAt).toBeUndefined();
  });

  it('claims an unknown document as not_found and changes nothing', async () => {
    expect(await store.claim('nope', { owner: 'a', leaseMs: LEASE, now: T0 })).toEqual({
      outcome: 'not_found',
    });
    expect(await store.get('nope')).toBeUndefined();
    expect(await store.list()).toEqual([]);
  });

  it('lists by status and batch, and deletes', async () => {
    await store.register({ id: 'b', source: 'inline:', content: 'x', batchId: 'batch-1' }, T0);
    await store.register({ id: 'a', source: 'inline:', content: 'y' }, T0);
    await store.claim('a', { owner: 'o', leaseMs: LEASE, now: T0 });
    expect((await store.list()).map((r) => r.id)).toEqual(['a', 'b']);
    expect((await store.list({ status: 'processing' })).map((r) => r.id)).toEqual(['a']);
    expect((await store.list({ batchId: 'batch-1' })).map((r) => r.id)).toEqual(['b']);
    expect(await store.delete('a')).toBe(true);
    expect(await store.delete('a')).toBe(false);
    expect(await other.get('a')).toBeUndefined();
  });

  it('records failure as dead_lettered when asked', async () => {
    await register();
    await store.claim('doc-1', { owner: 'a', leaseMs: LEASE, now: T0 });
    await store.fail(
      'doc-1',
      'a',
      { stage: 'fetching', code: 'unsupported_content', message: 'binary', retryable: false },
      T0,
      'dead_lettered',
    );
    expect(await store.get('doc-1')).toMatchObject({
      status: 'dead_lettered',
      error: { retryable: false, stage: 'fetching' },
    });
  });

  it('keeps ids that are paths or otherwise awkward as document ids, and tells them apart', async () => {
    const ids = ['docs/guide/intro.md', 'docs%2Fguide%2Fintro.md', '..', '.', '__meta__', 'a b|c'];
    for (const id of ids) await store.register({ id, source: 'inline:', content: id }, T0);
    expect((await other.list()).map((r) => r.id)).toEqual([...ids].sort());
    for (const id of ids) expect((await other.get(id))?.content).toBe(id);
    const claim = await other.claim('docs/guide/intro.md', { owner: 'a', leaseMs: LEASE, now: T0 });
    expect(claim.outcome).toBe('claimed');
    expect((await store.get('docs%2Fguide%2Fintro.md'))?.status).toBe('pending');
  });

  describe('batched transitions (registerAll, claimAll, completeAll)', () => {
    it('registerAll registers every document as pending, in input order, and re-registering keeps status', async () => {
      await register('doc-2');
      await store.claim('doc-2', { owner: 'a', leaseMs: LEASE, now: T0 });
      const records = await registerAll(
        store,
        [
          { id: 'doc-3', source: 'inline:', content: 'three', batchId: 'batch-1' },
          { id: 'doc-1', source: 'inline:', content: 'one', title: 'One' },
          { id: 'doc-2', source: 'inline:', content: 'two, changed' },
        ],
        T0 + 5,
      );
      expect(records.map((r) => r.id)).toEqual(['doc-3', 'doc-1', 'doc-2']);
      expect(records[0]).toEqual({
        id: 'doc-3',
        source: 'inline:',
        content: 'three',
        batchId: 'batch-1',
        status: 'pending',
        attempt: 0,
        createdAt: T0 + 5,
        updatedAt: T0 + 5,
      });
      expect(records[1]).toMatchObject({ id: 'doc-1', title: 'One', status: 'pending', attempt: 0 });
      // Already registered and claimed: its content changes, its status and lease do not.
      expect(records[2]).toMatchObject({
        id: 'doc-2',
        content: 'two, changed',
        status: 'processing',
        leaseOwner: 'a',
        attempt: 1,
        createdAt: T0,
      });
      for (const r of records) expect(await other.get(r.id)).toEqual(r);
      expect((await other.list({ status: 'pending' })).map((r) => r.id)).toEqual(['doc-1', 'doc-3']);
    });

    it('claimAll answers claimed / not_found / leased in input order, as claim does one by one', async () => {
      await register('free');
      await register('taken');
      await store.claim('taken', { owner: 'other-run', leaseMs: LEASE, now: T0 });
      const takenBefore = await store.get('taken');

      const results = await claimAll(
        store,
        [
          { id: 'free', owner: 'run-1' },
          { id: 'missing', owner: 'run-1' },
          { id: 'taken', owner: 'run-1' },
        ],
        { leaseMs: LEASE, now: T0 + 1 },
      );

      expect(results.map((r) => r.outcome)).toEqual(['claimed', 'not_found', 'leased']);
      const [claimed, , leased] = results;
      expect(leased).toEqual({ outcome: 'leased', leaseOwner: 'other-run', leaseExpiresAt: T0 + LEASE });
      if (claimed?.outcome !== 'claimed') throw new Error('expected the free document to be claimed');
      expect(claimed.previous.status).toBe('pending');
      expect(claimed.record).toMatchObject({
        id: 'free',
        status: 'processing',
        leaseOwner: 'run-1',
        leaseExpiresAt: T0 + 1 + LEASE,
        attempt: 1,
      });
      expect(await other.get('free')).toEqual(claimed.record);
      expect(await other.get('taken')).toEqual(takenBefore);
      expect(await other.get('missing')).toBeUndefined();
    });

    it('claimAll applies the items in order: the second claim of one document sees the first', async () => {
      await register('doc-1');
      const results = await claimAll(
        store,
        [
          { id: 'doc-1', owner: 'run-1' },
          { id: 'doc-1', owner: 'run-2' },
          { id: 'doc-1', owner: 'run-1' },
        ],
        { leaseMs: LEASE, now: T0 },
      );
      expect(results.map((r) => r.outcome)).toEqual(['claimed', 'leased', 'claimed']);
      expect(results[1]).toEqual({ outcome: 'leased', leaseOwner: 'run-1', leaseExpiresAt: T0 + LEASE });
      // The same owner claiming again renews its lease (attempt + 1), exactly as claim does.
      expect(await other.get('doc-1')).toMatchObject({ leaseOwner: 'run-1', attempt: 2 });
    });

    it('completeAll completes the items whose owner holds the lease and returns lease_lost for the rest', async () => {
      for (const id of ['a', 'b', 'c']) await register(id);
      await claimAll(
        store,
        [
          { id: 'a', owner: 'run-1' },
          { id: 'b', owner: 'run-2' },
          { id: 'c', owner: 'run-1' },
        ],
        { leaseMs: LEASE, now: T0 },
      );
      const bBefore = await store.get('b');

      const results = await completeAll(
        store,
        [
          { id: 'a', owner: 'run-1', update: UPDATE },
          { id: 'b', owner: 'run-1', update: UPDATE },
          { id: 'c', owner: 'run-1', update: { ...UPDATE, chunkCount: 5, contentHash: 'h-c' } },
          { id: 'never-registered', owner: 'run-1', update: UPDATE },
        ],
        T0 + 10,
      );

      expect(results).toHaveLength(4);
      expect(results[0]).toBeUndefined();
      expect(results[2]).toBeUndefined();
      for (const lost of [results[1], results[3]]) {
        expect(lost).toBeInstanceOf(GraphmillError);
        expect(lost).toMatchObject({ code: 'lease_lost' });
      }
      expect(await other.get('b')).toEqual(bBefore);
      expect(await other.get('never-registered')).toBeUndefined();
      expect(await other.get('a')).toMatchObject({
        status: 'completed',
        chunkCount: 3,
        contentHash: 'h',
        chunkSize: 10,
        chunkOverlap: 2,
        durationMs: 7,
        progress: 100,
        completedAt: T0 + 10,
      });
      expect(await other.get('c')).toMatchObject({ status: 'completed', chunkCount: 5, contentHash: 'h-c' });
      for (const id of ['a', 'c']) {
        const done = await other.get(id);
        expect(done?.leaseOwner).toBeUndefined();
        expect(done?.leaseExpiresAt).toBeUndefined();
      }
    });

    it('gives the same results and records as the single forms on a fresh store', async () => {
      const docs = ['d1', 'd2', 'd3'].map((id) => ({ id, source: 'inline:', content: id }));
      const claims = [
        { id: 'd1', owner: 'r1' },
        { id: 'd2', owner: 'r2' },
        { id: 'd2', owner: 'r1' },
        { id: 'd4', owner: 'r1' },
      ];
      const completions = [
        { id: 'd1', owner: 'r1', update: UPDATE },
        { id: 'd2', owner: 'r1', update: UPDATE },
      ];
      const lease = { leaseMs: LEASE, now: T0 + 1 };
      const codeOf = (err: unknown) => (err === undefined ? undefined : (err as GraphmillError).code);

      const viaHelpers = async (s: StatusStore) => ({
        registered: await registerAll(s, docs, T0),
        claimed: await claimAll(s, claims, lease),
        completed: (await completeAll(s, completions, T0 + 2)).map(codeOf),
        records: await s.list(),
      });
      const viaSingleForms = async (s: StatusStore) => {
        const registered = [];
        for (const d of docs) registered.push(await s.register(d, T0));
        const claimed = [];
        for (const c of claims) claimed.push(await s.claim(c.id, { ...lease, owner: c.owner }));
        const completed = [];
        for (const c of completions) {
          completed.push(await s.complete(c.id, c.owner, c.update, T0 + 2).then(() => undefined, codeOf));
        }
        return { registered, claimed, completed, records: await s.list() };
      };

      const fresh = subject.make();
      try {
        const single = await viaSingleForms(fresh.store);
        expect(single.claimed.map((c) => c.outcome)).toEqual(['claimed', 'claimed', 'leased', 'not_found']);
        expect(single.completed).toEqual([undefined, 'lease_lost']);
        expect(await viaHelpers(store)).toEqual(single);
      } finally {
        await fresh.cleanup();
      }
    });
  });

  // Only the adapter with native batched forms: each call is one transaction, so a failure part-way
  // through leaves nothing of it behind. A document without an id cannot be bound as a SQLite parameter,
  // which makes the transaction throw after the earlier items were written inside it.
  if (subject.name.startsWith(BATCHED_ADAPTER)) {
    describe('native batched forms roll back as a whole', () => {
      const noId = undefined as unknown as string;

      it('has registerMany, claimMany and completeMany', () => {
        expect(typeof store.registerMany).toBe('function');
        expect(typeof store.claimMany).toBe('function');
        expect(typeof store.completeMany).toBe('function');
      });

      it('registerMany: a failing document leaves none of the batch registered', async () => {
        await expect(
          store.registerMany?.(
            [
              { id: 'doc-1', source: 'inline:', content: 'one' },
              { id: noId, source: 'inline:', content: 'no id' },
            ],
            T0,
          ),
        ).rejects.toThrow();
        expect(await other.get('doc-1')).toBeUndefined();
        expect(await other.list()).toEqual([]);
      });

      it('claimMany: a failing item leaves the earlier claims of the batch undone', async () => {
        await register('doc-1');
        const before = await store.get('doc-1');
        await expect(
          store.claimMany?.(
            [
              { id: 'doc-1', owner: 'run-1' },
              { id: noId, owner: 'run-1' },
            ],
            { leaseMs: LEASE, now: T0 },
          ),
        ).rejects.toThrow();
        expect(await other.get('doc-1')).toEqual(before);
        // The store is usable afterwards: the transaction was rolled back, not left open.
        expect((await store.claim('doc-1', { owner: 'run-1', leaseMs: LEASE, now: T0 })).outcome).toBe(
          'claimed',
        );
      });

      it('completeMany: an error other than lease_lost throws and completes nothing', async () => {
        await register('doc-1');
        await store.claim('doc-1', { owner: 'run-1', leaseMs: LEASE, now: T0 });
        const before = await store.get('doc-1');
        await expect(
          store.completeMany?.(
            [
              { id: 'doc-1', owner: 'run-1', update: UPDATE },
              { id: noId, owner: 'run-1', update: UPDATE },
            ],
            T0 + 1,
          ),
        ).rejects.toThrow();
        expect(await other.get('doc-1')).toEqual(before);
      });
    });
  }
}
