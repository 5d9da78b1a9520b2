/**
 * The batched-transition helpers (registerAll, claimAll, completeAll): the fallback to the single forms
 * for stores without batched methods, the pass-through to the native ones, and how withRetries carries
 * the batched forms (only when the inner store has them, retried by the policy, a lost lease not retried).
 */
import { openMemoryDatabase } from '../../../shared/adapters/sqlite/database';
import { SqliteStatusStore } from '../../../shared/adapters/sqlite/status-store';
import { dependencyUnavailable, GraphmillError, leaseLost } from '../../../shared/errors';
import { makeRetry } from '../../../shared/resilience';
import { fixedRandom, makeFakeTime } from '../../../shared/resilience/testing';
import { type CompletionUpdate } from '../../../shared/status';
import { InMemoryStatusStore } from '../../../shared/adapters/memory/status-store';
import type { StatusStore } from '../../../shared/ports/status-store';
import { claimAll, completeAll, registerAll } from '../../../shared/status/batch';
import { withRetries } from '../../../shared/status/retrying';

const LEASE = 60_000;
const T0 = 1_700_000_000_000;
const UPDATE: CompletionUpdate = {
  contentHash: 'h',
  chunkCount: 3,
  chunkSize: 10,
  chunkOverlap: 2,
  durationMs: 7,
};
const doc = (id: string) => ({ id, source: 'inline:', content: id });

/** An in-memory store whose `complete` fails with `error` for one document id. */
class FailingComplete extends InMemoryStatusStore {
  constructor(
    private readonly failingId: string,
    private readonly error: Error,
  ) {
    super();
  }
  override complete(id: string, owner: string, update: CompletionUpdate, now: number): Promise<void> {
    return id === this.failingId ? Promise.reject(this.error) : super.complete(id, owner, update, now);
  }
}

const openSqlite = () => new SqliteStatusStore(openMemoryDatabase());

describe('fallback to the single forms (a store without batched methods)', () => {
  let store: InMemoryStatusStore;
  beforeEach(() => {
    store = new InMemoryStatusStore();
  });

  it('the in-memory store has no batched methods, so the helpers must fall back', () => {
    const s: StatusStore = store;
    expect(s.registerMany).toBeUndefined();
    expect(s.claimMany).toBeUndefined();
    expect(s.completeMany).toBeUndefined();
  });

  it('registerAll registers each document with register, in input order', async () => {
    const register = jest.spyOn(store, 'register');
    const records = await registerAll(store, [doc('c'), doc('a'), doc('b')], T0);
    expect(register.mock.calls.map(([d, now]) => [d.id, now])).toEqual([
      ['c', T0],
      ['a', T0],
      ['b', T0],
    ]);
    expect(records.map((r) => [r.id, r.status])).toEqual([
      ['c', 'pending'],
      ['a', 'pending'],
      ['b', 'pending'],
    ]);
    expect(await store.list({ status: 'pending' })).toHaveLength(3);
  });

  it('claimAll claims each item with its own owner and answers in input order', async () => {
    await registerAll(store, [doc('a'), doc('b')], T0);
    await store.claim('b', { owner: 'x', leaseMs: LEASE, now: T0 });
    const claim = jest.spyOn(store, 'claim');

    const results = await claimAll(
      store,
      [
        { id: 'b', owner: 'r1' },
        { id: 'missing', owner: 'r1' },
        { id: 'a', owner: 'r2' },
      ],
      { leaseMs: LEASE, now: T0 + 1 },
    );

    expect(results.map((r) => r.outcome)).toEqual(['leased', 'not_found', 'claimed']);
    expect(results[0]).toEqual({ outcome: 'leased', leaseOwner: 'x', leaseExpiresAt: T0 + LEASE });
    expect(claim.mock.calls).toEqual([
      ['b', { owner: 'r1', leaseMs: LEASE, now: T0 + 1 }],
      ['missing', { owner: 'r1', leaseMs: LEASE, now: T0 + 1 }],
      ['a', { owner: 'r2', leaseMs: LEASE, now: T0 + 1 }],
    ]);
    expect(await store.get('a')).toMatchObject({ status: 'processing', leaseOwner: 'r2' });
  });

  it('completeAll returns lease_lost for the item whose lease is lost and completes the others', async () => {
    await registerAll(store, [doc('a'), doc('b'), doc('c')], T0);
    await claimAll(
      store,
      [
        { id: 'a', owner: 'r1' },
        { id: 'b', owner: 'r2' },
        { id: 'c', owner: 'r1' },
      ],
      { leaseMs: LEASE, now: T0 },
    );
    const bBefore = await store.get('b');
    const complete = jest.spyOn(store, 'complete');

    const results = await completeAll(
      store,
      ['a', 'b', 'c'].map((id) => ({ id, owner: 'r1', update: UPDATE })),
      T0 + 1,
    );

    expect(results[0]).toBeUndefined();
    expect(results[1]).toBeInstanceOf(GraphmillError);
    expect(results[1]).toMatchObject({ code: 'lease_lost' });
    expect(results[2]).toBeUndefined();
    expect(results).toHaveLength(3);
    // One single-form call per item, in input order, each with its own owner and the shared time.
    expect(complete.mock.calls.map(([id, owner, , now]) => [id, owner, now])).toEqual([
      ['a', 'r1', T0 + 1],
      ['b', 'r1', T0 + 1],
      ['c', 'r1', T0 + 1],
    ]);
    expect(await store.get('b')).toEqual(bBefore);
    for (const id of ['a', 'c']) {
      expect(await store.get(id)).toMatchObject({ status: 'completed', chunkCount: 3, completedAt: T0 + 1 });
      expect((await store.get(id))?.leaseOwner).toBeUndefined();
    }
  });

  it.each([
    ['a plain Error', new Error('disk full')],
    ['a GraphmillError other than lease_lost', dependencyUnavailable('store is down')],
  ])('completeAll returns %s for the item that failed and completes the others', async (_, error) => {
    const failing = new FailingComplete('b', error);
    await registerAll(failing, [doc('a'), doc('b'), doc('c')], T0);
    await claimAll(
      failing,
      ['a', 'b', 'c'].map((id) => ({ id, owner: 'r1' })),
      { leaseMs: LEASE, now: T0 },
    );
    const out = await completeAll(
      failing,
      ['a', 'b', 'c'].map((id) => ({ id, owner: 'r1', update: UPDATE })),
      T0 + 1,
    );
    expect(out).toEqual([undefined, error, undefined]);
    expect((await failing.get('a'))?.status).toBe('completed');
    expect((await failing.get('b'))?.status).toBe('processing');
    expect((await failing.get('c'))?.status).toBe('completed');
  });
});

describe('native batched forms', () => {
  it('the helpers make one batched call per set and no single calls', async () => {
    const store = openSqlite();
    const single = [jest.spyOn(store, 'register'), jest.spyOn(store, 'claim'), jest.spyOn(store, 'complete')];
    const registerMany = jest.spyOn(store, 'registerMany');
    const claimMany = jest.spyOn(store, 'claimMany');
    const completeMany = jest.spyOn(store, 'completeMany');

    await registerAll(store, [doc('a'), doc('b')], T0);
    const claimed = await claimAll(
      store,
      [
        { id: 'a', owner: 'r1' },
        { id: 'b', owner: 'r2' },
      ],
      { leaseMs: LEASE, now: T0 },
    );
    const completed = await completeAll(
      store,
      ['a', 'b'].map((id) => ({ id, owner: 'r1', update: UPDATE })),
      T0 + 1,
    );

    expect(registerMany).toHaveBeenCalledTimes(1);
    expect(claimMany).toHaveBeenCalledTimes(1);
    expect(claimMany).toHaveBeenCalledWith(
      [
        { id: 'a', owner: 'r1' },
        { id: 'b', owner: 'r2' },
      ],
      { leaseMs: LEASE, now: T0 },
    );
    expect(completeMany).toHaveBeenCalledTimes(1);
    for (const spy of single) expect(spy).not.toHaveBeenCalled();
    expect(claimed.map((c) => c.outcome)).toEqual(['claimed', 'claimed']);
    expect(completed[0]).toBeUndefined();
    expect(completed[1]).toMatchObject({ code: 'lease_lost' });
    await store.close();
  });
});

describe('withRetries and the batched forms', () => {
  function setup() {
    const time = makeFakeTime(0);
    const policy = makeRetry({
      name: 'firestore',
      maxAttempts: 4,
      initialDelayMs: 100,
      maxDelayMs: 1_000,
      maxTotalMs: 60_000,
      clock: time.clock,
      sleep: time.sleep,
      random: fixedRandom(0.5),
    });
    return { time, policy };
  }

  it('exposes the batched forms only when the inner store has them', async () => {
    const { policy } = setup();
    const plain = withRetries(new InMemoryStatusStore(), policy);
    expect(plain.registerMany).toBeUndefined();
    expect(plain.claimMany).toBeUndefined();
    expect(plain.completeMany).toBeUndefined();

    const sqlite = openSqlite();
    const native = withRetries(sqlite, policy);
    expect(typeof native.registerMany).toBe('function');
    expect(typeof native.claimMany).toBe('function');
    expect(typeof native.completeMany).toBe('function');

    // Only the one the inner store has.
    const claimOnly = withRetries(
      Object.assign(new InMemoryStatusStore(), { claimMany: sqlite.claimMany.bind(sqlite) }),
      policy,
    );
    expect(typeof claimOnly.claimMany).toBe('function');
    expect(claimOnly.registerMany).toBeUndefined();
    expect(claimOnly.completeMany).toBeUndefined();
    await sqlite.close();
  });

  it('passes the batched calls through to the inner store', async () => {
    const { policy } = setup();
    const inner = openSqlite();
    const registerMany = jest.spyOn(inner, 'registerMany');
    const claimMany = jest.spyOn(inner, 'claimMany');
    const store = withRetries(inner, policy);

    await registerAll(store, [doc('a'), doc('b')], T0);
    const results = await claimAll(
      store,
      [
        { id: 'a', owner: 'r1' },
        { id: 'missing', owner: 'r1' },
      ],
      { leaseMs: LEASE, now: T0 },
    );

    expect(registerMany).toHaveBeenCalledTimes(1);
    expect(claimMany).toHaveBeenCalledTimes(1);
    expect(results.map((r) => r.outcome)).toEqual(['claimed', 'not_found']);
    expect(await inner.get('a')).toMatchObject({ status: 'processing', leaseOwner: 'r1' });
    await inner.close();
  });

  it('retries a transient failure of claimMany and returns the retried result', async () => {
    const { policy, time } = setup();
    const inner = openSqlite();
    await inner.register(doc('a'), T0);
    const claimMany = jest.spyOn(inner, 'claimMany').mockRejectedValueOnce(dependencyUnavailable('busy'));
    const store = withRetries(inner, policy);

    const results = await claimAll(store, [{ id: 'a', owner: 'r1' }], { leaseMs: LEASE, now: T0 });

    expect(claimMany).toHaveBeenCalledTimes(2);
    expect(time.sleeps).toHaveLength(1);
    expect(results[0]).toMatchObject({ outcome: 'claimed', record: { leaseOwner: 'r1', attempt: 1 } });
    await inner.close();
  });

  it('does not retry a lost lease, single or batched', async () => {
    const { policy, time } = setup();
    const inner = openSqlite();
    await inner.register(doc('a'), T0);
    const complete = jest.spyOn(inner, 'complete');
    const lost = leaseLost('another run owns it');
    const claimMany = jest.spyOn(inner, 'claimMany').mockRejectedValueOnce(lost);
    const completeMany = jest.spyOn(inner, 'completeMany');
    const store = withRetries(inner, policy);

    // lease_lost is `retryable` as an HTTP answer, so only withRetries keeps the policy from retrying it.
    expect(lost.retryable).toBe(true);
    await expect(store.complete('a', 'r1', UPDATE, T0)).rejects.toMatchObject({ code: 'lease_lost' });
    expect(complete).toHaveBeenCalledTimes(1);

    await expect(store.claimMany?.([{ id: 'a', owner: 'r1' }], { leaseMs: LEASE, now: T0 })).rejects.toBe(
      lost,
    );
    expect(claimMany).toHaveBeenCalledTimes(1);

    // completeMany reports a lost lease per item instead of throwing: one call, the error in the result.
    const results = await completeAll(store, [{ id: 'a', owner: 'r1', update: UPDATE }], T0);
    expect(completeMany).toHaveBeenCalledTimes(1);
    expect(results[0]).toMatchObject({ code: 'lease_lost' });

    expect(time.sleeps).toEqual([]);
    expect(await inner.get('a')).toMatchObject({ status: 'pending', attempt: 0 });
    await inner.close();
  });
});
