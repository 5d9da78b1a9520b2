/**
 * The StatusStore contract, run against every adapter (see subjects.ts): in-memory, SQLite in memory and
 * on disk (two store instances share one file like the CLI and `serve` do), and Firestore on the emulator.
 */
import { FirestoreStatusStore } from '../../shared/adapters/firestore/status-store';
import { SqliteStatusStore } from '../../shared/adapters/sqlite/status-store';
import { GraphmillError } from '../../shared/errors';
import { InMemoryStatusStore, type StatusStore } from '../../shared/status';
import { describeContract, type Subject } from './subjects';

const LEASE = 60_000;
const T0 = 1_700_000_000_000;

describeContract(
  'StatusStore',
  {
    memory: { name: 'InMemoryStatusStore', make: () => new InMemoryStatusStore() },
    sqlite: { name: 'SqliteStatusStore', make: (db) => new SqliteStatusStore(db) },
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
}
