/** The DeadLetterStore contract, run against every adapter (see subjects.ts). */
import { FirestoreDeadLetterStore } from '../../shared/adapters/firestore/dead-letter-store';
import { SqliteDeadLetterStore } from '../../shared/adapters/sqlite/dead-letter-store';
import { InMemoryDeadLetterStore } from '../../shared/adapters/memory/dead-letter-store';
import type { DeadLetter } from '../../shared/dlq/types';
import type { DeadLetterStore } from '../../shared/ports/dead-letter-store';
import { describeContract, type Subject } from './subjects';

const T0 = 1_700_000_000_000;
const LEASE = 60_000;

describeContract(
  'DeadLetterStore',
  {
    memory: { name: 'InMemoryDeadLetterStore', make: () => new InMemoryDeadLetterStore() },
    sqlite: { name: 'SqliteDeadLetterStore', make: (db) => new SqliteDeadLetterStore(db) },
    firestore: {
      name: 'FirestoreDeadLetterStore',
      make: (firestore) => new FirestoreDeadLetterStore(firestore),
    },
  },
  deadLetterStoreContract,
);

function entry(id: string, over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id,
    operation: { kind: 'document', documentId: `docs/${id}.md`, action: 'process_document', batchId: 'b1' },
    errorClass: 'connection',
    strategy: 'exponential',
    status: 'pending',
    attempts: 1,
    maxAttempts: 5,
    nextAttemptAt: T0,
    history: [{ at: T0 - 1000, code: 'dependency_unavailable', message: 'neo4j down', retryable: true }],
    createdAt: T0 - 1000,
    updatedAt: T0 - 1000,
    ...over,
  };
}

function deadLetterStoreContract(subject: Subject<DeadLetterStore>): void {
  let store: DeadLetterStore;
  let other: DeadLetterStore;
  let cleanup: () => Promise<void>;

  beforeEach(() => {
    ({ store, other, cleanup } = subject.make());
  });
  afterEach(() => cleanup());

  it('puts, gets and replaces entries, ids with slashes included', async () => {
    const doc = entry('document:docs/a.md:process_document');
    const event = entry('event:1', {
      operation: { kind: 'event', topic: 'ingest-requests', payload: '{"broken', reason: 'invalid JSON' },
      errorClass: 'permanent',
      strategy: 'manual',
      status: 'manual_review',
      attempts: 0,
      history: [],
      alertedAt: T0,
    });
    delete (event as { nextAttemptAt?: number }).nextAttemptAt;
    await store.put(doc);
    await store.put(event);
    expect(await other.get(doc.id)).toEqual(doc);
    expect(await other.get(event.id)).toEqual(event);
    expect(await other.get('missing')).toBeUndefined();

    // put replaces the whole entry: fields the new state lacks are gone.
    const resolved: DeadLetter = {
      ...entry(doc.id, { status: 'resolved', attempts: 2, resolvedAt: T0 + 5, resolution: 'replayed' }),
    };
    delete (resolved as { nextAttemptAt?: number }).nextAttemptAt;
    await other.put(resolved);
    expect(await store.get(doc.id)).toEqual(resolved);
    expect(await store.get(doc.id)).not.toHaveProperty('nextAttemptAt');
  });

  it('lists by status, ordered by id, with a limit', async () => {
    await store.put(entry('c'));
    await store.put(entry('a'));
    await store.put(entry('b', { status: 'manual_review' }));
    await store.put(entry('d', { status: 'resolved' }));
    const ids = (list: DeadLetter[]) => list.map((e) => e.id);
    expect(ids(await other.list())).toEqual(['a', 'b', 'c', 'd']);
    expect(ids(await other.list({ status: 'pending' }))).toEqual(['a', 'c']);
    expect(ids(await other.list({ status: 'manual_review' }))).toEqual(['b']);
    expect(ids(await other.list({ status: 'replaying' }))).toEqual([]);
    expect(ids(await other.list({ status: 'pending', limit: 1 }))).toEqual(['a']);
    expect(ids(await other.list({ limit: 3 }))).toEqual(['a', 'b', 'c']);
  });

  it('claims only due pending entries and expired replay leases, longest waiting first', async () => {
    const noNextAttempt = (e: DeadLetter): DeadLetter => {
      const { nextAttemptAt: _, ...rest } = e;
      return rest;
    };
    await store.put(entry('due-late', { nextAttemptAt: T0 }));
    await store.put(entry('due-early', { nextAttemptAt: T0 - 500 }));
    await store.put(entry('future', { nextAttemptAt: T0 + 1 }));
    await store.put(noNextAttempt(entry('review', { status: 'manual_review', strategy: 'manual' })));
    await store.put(entry('resolved', { status: 'resolved', nextAttemptAt: T0 - 900 }));
    await store.put(
      entry('stale', {
        status: 'replaying',
        leaseOwner: 'crashed',
        leaseExpiresAt: T0 - 100,
        nextAttemptAt: T0 - 900,
      }),
    );
    await store.put(entry('live', { status: 'replaying', leaseOwner: 'busy', leaseExpiresAt: T0 + 1 }));

    const claimed = await other.claimDue(T0, 10, 'replayer-1', LEASE);
    expect(claimed.map((e) => e.id)).toEqual(['due-early', 'stale', 'due-late']);
    for (const e of claimed) {
      expect(e).toMatchObject({
        status: 'replaying',
        leaseOwner: 'replayer-1',
        leaseExpiresAt: T0 + LEASE,
        updatedAt: T0,
        attempts: 1,
      });
      expect(await store.get(e.id)).toEqual(e);
    }
    expect(await store.get('live')).toMatchObject({ leaseOwner: 'busy' });
    expect(await store.get('future')).toMatchObject({ status: 'pending' });
    expect(await other.claimDue(T0, 10, 'replayer-2', LEASE)).toEqual([]);
  });

  it('respects the limit, and takes a lease over only once it has expired', async () => {
    for (const id of ['a', 'b', 'c']) await store.put(entry(id));
    expect((await store.claimDue(T0, 2, 'r1', LEASE)).map((e) => e.id)).toEqual(['a', 'b']);
    expect(await store.claimDue(T0, 0, 'r1', LEASE)).toEqual([]);
    expect((await other.claimDue(T0 + LEASE - 1, 5, 'r2', LEASE)).map((e) => e.id)).toEqual(['c']);
    const takeover = await other.claimDue(T0 + LEASE, 5, 'r3', LEASE);
    expect(takeover.map((e) => e.id)).toEqual(['a', 'b']);
    expect(await store.get('a')).toMatchObject({ leaseOwner: 'r3', leaseExpiresAt: T0 + 2 * LEASE });
  });

  it('never hands the same entry to two concurrent claimDue calls on two connections', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `dl-${String(i).padStart(2, '0')}`);
    for (const [i, id] of ids.entries()) await store.put(entry(id, { nextAttemptAt: T0 - i }));

    const rounds = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? store : other).claimDue(T0, 4, `r${i}`, LEASE)),
    );
    const taken = rounds.flatMap((list, i) => list.map((e) => ({ id: e.id, owner: `r${i}` })));
    expect(new Set(taken.map((t) => t.id)).size).toBe(taken.length);
    for (const t of taken) expect((await store.get(t.id))?.leaseOwner).toBe(t.owner);

    // Whatever the racing calls left behind is still claimable: nothing was lost.
    const rest = await store.claimDue(T0, 20, 'sweeper', LEASE);
    expect([...taken.map((t) => t.id), ...rest.map((e) => e.id)].sort()).toEqual(ids);
  });
}
