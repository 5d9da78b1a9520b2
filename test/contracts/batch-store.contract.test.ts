/** The BatchStore contract, run against every adapter (see subjects.ts). */
import { FirestoreBatchStore } from '../../shared/adapters/firestore/batch-store';
import { SqliteBatchStore } from '../../shared/adapters/sqlite/batch-store';
import { InMemoryBatchStore } from '../../shared/adapters/memory/batch-store';
import { MAX_BATCH_STATE_BYTES } from '../../shared/batches/transitions';
import type { NewBatch, UnitOutcome, UnitResult } from '../../shared/batches/types';
import type { BatchStore } from '../../shared/ports/batch-store';
import { describeContract, type Subject } from './subjects';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

describeContract(
  'BatchStore',
  {
    memory: { name: 'InMemoryBatchStore', make: () => new InMemoryBatchStore() },
    sqlite: { name: 'SqliteBatchStore', make: (db) => new SqliteBatchStore(db) },
    firestore: { name: 'FirestoreBatchStore', make: (firestore) => new FirestoreBatchStore(firestore) },
  },
  batchStoreContract,
);

// Unit ids are document ids: paths with dots must survive as keys of the stored outcome maps.
const UNITS = ['docs/a.md', 'docs/b.md', 'c'];
const newBatch = (over: Partial<NewBatch> = {}): NewBatch => ({
  id: 'batch-1',
  units: UNITS,
  phases: ['ingest', 'embed'],
  deadline: T0 + HOUR,
  correlationId: 'corr-1',
  ...over,
});

/** Records one outcome per unit of UNITS for `phase`, in order, at `at`, `at + 1`, ...; returns each result. */
async function recordUnits(
  store: BatchStore,
  phase: string,
  outcomes: readonly UnitOutcome[],
  at: number,
): Promise<UnitResult[]> {
  const results: UnitResult[] = [];
  for (const [i, outcome] of outcomes.entries()) {
    results.push(await store.recordUnit('batch-1', phase, UNITS[i] as string, outcome, at + i));
  }
  return results;
}

function batchStoreContract(subject: Subject<BatchStore>): void {
  let store: BatchStore;
  let other: BatchStore;
  let cleanup: () => Promise<void>;

  beforeEach(() => {
    ({ store, other, cleanup } = subject.make());
  });
  afterEach(() => cleanup());

  it('creates an open batch with one empty state per phase', async () => {
    const batch = await store.create(newBatch(), T0);
    expect(batch).toEqual({
      id: 'batch-1',
      units: UNITS,
      phases: ['ingest', 'embed'],
      status: 'open',
      deadline: T0 + HOUR,
      createdAt: T0,
      updatedAt: T0,
      correlationId: 'corr-1',
      phaseStates: {
        ingest: { phase: 'ingest', expected: 3, units: {}, succeeded: 0, failed: 0 },
        embed: { phase: 'embed', expected: 3, units: {}, succeeded: 0, failed: 0 },
      },
    });
    expect(await other.get('batch-1')).toEqual(batch);
    expect(await other.get('batch-2')).toBeUndefined();
  });

  it('returns the existing batch when re-submitted with the same units, refuses other units (400)', async () => {
    const first = await store.create(newBatch(), T0);
    await store.recordUnit('batch-1', 'ingest', 'c', 'succeeded', T0 + 1);
    const recorded = await store.get('batch-1');

    expect(
      await other.create(newBatch({ units: [...UNITS].reverse(), deadline: T0 + 5 * HOUR }), T0 + 2),
    ).toEqual(recorded);
    expect(first.createdAt).toBe(T0);
    await expect(other.create(newBatch({ units: ['docs/a.md', 'x'] }), T0 + 3)).rejects.toMatchObject({
      code: 'bad_request',
      status: 400,
    });
    await expect(other.create(newBatch({ phases: ['ingest'] }), T0 + 3)).rejects.toMatchObject({
      code: 'bad_request',
    });
    expect(await store.get('batch-1')).toEqual(recorded);
  });

  it('refuses batches without units or phases, with duplicates, or too large for one document', async () => {
    for (const bad of [
      newBatch({ units: [] }),
      newBatch({ phases: [] }),
      newBatch({ units: ['a', 'a'] }),
      newBatch({ units: ['a', ''] }),
      newBatch({ phases: ['ingest', 'ingest'] }),
      newBatch({ units: Array.from({ length: MAX_BATCH_STATE_BYTES / 30 }, (_, i) => `docs/${i}.md`) }),
    ]) {
      await expect(store.create(bad, T0)).rejects.toMatchObject({ code: 'bad_request' });
    }
    expect(await other.get('batch-1')).toBeUndefined();
  });

  it('accounts for each unit: expected, succeeded, failed, a later outcome replacing an earlier one', async () => {
    await store.create(newBatch(), T0);
    let r = await store.recordUnit('batch-1', 'ingest', 'docs/a.md', 'failed', T0 + 1);
    expect(r.phaseCompleted).toBeUndefined();
    expect(r.batch.phaseStates['ingest']).toMatchObject({ expected: 3, succeeded: 0, failed: 1 });

    r = await other.recordUnit('batch-1', 'ingest', 'docs/a.md', 'succeeded', T0 + 2);
    expect(r.batch.phaseStates['ingest']).toMatchObject({
      succeeded: 1,
      failed: 0,
      units: { 'docs/a.md': 'succeeded' },
    });

    // The same outcome again (a redelivered event) changes nothing, not even updatedAt.
    r = await store.recordUnit('batch-1', 'ingest', 'docs/a.md', 'succeeded', T0 + 3);
    expect(r).toEqual({ batch: await other.get('batch-1') });
    expect(r.batch.updatedAt).toBe(T0 + 2);

    await store.recordUnit('batch-1', 'ingest', 'c', 'failed', T0 + 4);
    expect((await other.get('batch-1'))?.phaseStates['ingest']).toEqual({
      phase: 'ingest',
      expected: 3,
      units: { 'docs/a.md': 'succeeded', c: 'failed' },
      succeeded: 1,
      failed: 1,
    });
    expect((await other.get('batch-1'))?.phaseStates['embed']).toMatchObject({ succeeded: 0, failed: 0 });
  });

  it('never lets a failure replace a success: a stale or reordered event changes nothing', async () => {
    await store.create(newBatch(), T0);
    await store.recordUnit('batch-1', 'ingest', 'docs/a.md', 'succeeded', T0 + 1);
    const before = await other.get('batch-1');
    const r = await other.recordUnit('batch-1', 'ingest', 'docs/a.md', 'failed', T0 + 2);
    expect(r).toEqual({ batch: before });
    expect(await store.get('batch-1')).toEqual(before);
  });

  it('revises the summary of a completed batch when a failed unit later succeeds, in the same write', async () => {
    await store.create(newBatch({ phases: ['ingest'] }), T0);
    await recordUnits(store, 'ingest', ['failed', 'succeeded', 'succeeded'], T0 + 1);
    const first = { units: 3, succeeded: 2, failed: 1, failedUnits: ['docs/a.md'], durationMs: 5 };
    await store.complete('batch-1', first, T0 + 4);

    const r = await other.recordUnit('batch-1', 'ingest', 'docs/a.md', 'succeeded', T0 + 50);
    const revised = { units: 3, succeeded: 3, failed: 0, failedUnits: [], durationMs: 5 };
    expect(r.summaryRevised).toEqual({ previous: first, summary: revised });
    expect(r.phaseCompleted).toBeUndefined();
    expect(await store.get('batch-1')).toMatchObject({
      status: 'completed',
      completedAt: T0 + 4,
      summary: revised,
      summaryRevisedAt: T0 + 50,
    });
    // The same success again revises nothing.
    const again = await store.recordUnit('batch-1', 'ingest', 'docs/a.md', 'succeeded', T0 + 60);
    expect(again.summaryRevised).toBeUndefined();
    expect((await other.get('batch-1'))?.summaryRevisedAt).toBe(T0 + 50);
  });

  it('tells the caller a unit succeeded a phase after it completed, so the next phase is triggered for it', async () => {
    await store.create(newBatch(), T0);
    const [, , done] = await recordUnits(store, 'ingest', ['failed', 'succeeded', 'succeeded'], T0 + 1);
    expect(done).toMatchObject({ phaseCompleted: 'ingest', nextPhase: 'embed' });
    expect(done?.lateSuccess).toBeUndefined();

    const late = await other.recordUnit('batch-1', 'ingest', 'docs/a.md', 'succeeded', T0 + 4);
    expect(late.lateSuccess).toEqual({ nextPhase: 'embed' });
    expect(late.phaseCompleted).toBeUndefined();
    // The last phase has nothing after it.
    await store.recordUnit('batch-1', 'embed', 'c', 'failed', T0 + 5);
    await store.recordUnit('batch-1', 'embed', 'docs/a.md', 'succeeded', T0 + 6);
    await store.recordUnit('batch-1', 'embed', 'docs/b.md', 'succeeded', T0 + 7);
    const lastLate = await store.recordUnit('batch-1', 'embed', 'c', 'succeeded', T0 + 8);
    expect(lastLate.lateSuccess).toBeUndefined();
  });

  it("records a completed phase's failures in the next phase in the same write", async () => {
    await store.create(newBatch(), T0);
    const [, , done] = await recordUnits(store, 'ingest', ['failed', 'succeeded', 'failed'], T0 + 1);
    expect(done).toMatchObject({ phaseCompleted: 'ingest', nextPhase: 'embed' });
    expect((await other.get('batch-1'))?.phaseStates['embed']).toEqual({
      phase: 'embed',
      expected: 3,
      units: { 'docs/a.md': 'failed', c: 'failed' },
      succeeded: 0,
      failed: 2,
    });
  });

  it('completes every later phase in the same write when every unit failed a phase', async () => {
    await store.create(newBatch({ phases: ['ingest', 'embed', 'publish'] }), T0);
    const results = await recordUnits(store, 'ingest', ['failed', 'failed', 'failed'], T0);
    expect(results.map((r) => r.phaseCompleted)).toEqual([undefined, undefined, 'ingest']);
    expect(results[2]).not.toHaveProperty('nextPhase');
    const batch = await other.get('batch-1');
    for (const phase of ['embed', 'publish']) {
      expect(batch?.phaseStates[phase]).toMatchObject({ succeeded: 0, failed: 3, triggeredAt: T0 + 2 });
    }
  });

  it('rejects an unknown unit or phase (400) and an unknown batch (404), changing nothing', async () => {
    await store.create(newBatch(), T0);
    const before = await store.get('batch-1');
    await expect(
      store.recordUnit('batch-1', 'ingest', 'stranger', 'succeeded', T0 + 1),
    ).rejects.toMatchObject({
      code: 'bad_request',
      status: 400,
    });
    await expect(other.recordUnit('batch-1', 'publish', 'c', 'succeeded', T0 + 1)).rejects.toMatchObject({
      code: 'bad_request',
    });
    await expect(other.recordUnit('nope', 'ingest', 'c', 'succeeded', T0 + 1)).rejects.toMatchObject({
      code: 'not_found',
    });
    expect(await store.get('batch-1')).toEqual(before);
    expect(await store.get('nope')).toBeUndefined();
  });

  it('of 20 concurrent calls recording the last units of a phase, exactly one triggers the next phase', async () => {
    const units = Array.from({ length: 25 }, (_, i) => `docs/${i}.md`);
    await store.create(newBatch({ units }), T0);
    for (const unit of units.slice(0, 5)) await store.recordUnit('batch-1', 'ingest', unit, 'failed', T0);

    const results = await Promise.all(
      units
        .slice(5)
        .map((unit, i) =>
          (i % 2 ? store : other).recordUnit('batch-1', 'ingest', unit, 'succeeded', T0 + 1 + i),
        ),
    );
    const triggered = results.filter((r) => r.phaseCompleted !== undefined);
    expect(triggered).toHaveLength(1);
    expect(triggered[0]).toMatchObject({ phaseCompleted: 'ingest', nextPhase: 'embed' });
    expect(results.filter((r) => r.nextPhase !== undefined)).toHaveLength(1);

    const state = (await other.get('batch-1'))?.phaseStates['ingest'];
    expect(state).toMatchObject({ expected: 25, succeeded: 20, failed: 5 });
    expect(state?.triggeredAt).toBe(triggered[0]?.batch.phaseStates['ingest']?.triggeredAt);

    // A redelivery, or a failed unit succeeding later, does not trigger the phase again.
    const again = await store.recordUnit('batch-1', 'ingest', 'docs/0.md', 'succeeded', T0 + 100);
    expect(again.phaseCompleted).toBeUndefined();
    expect(again.batch.phaseStates['ingest']).toMatchObject({ succeeded: 21, failed: 4 });
  });

  it('reports the last phase completed with no next phase, then completes the batch once', async () => {
    await store.create(newBatch({ phases: ['ingest'] }), T0);
    const results = await recordUnits(store, 'ingest', ['failed', 'succeeded', 'succeeded'], T0);
    const last = results[2];
    expect(last?.phaseCompleted).toBe('ingest');
    expect(last).not.toHaveProperty('nextPhase');
    expect(results.slice(0, 2).every((r) => r.phaseCompleted === undefined)).toBe(true);

    const summary = { units: 3, succeeded: 2, failed: 1, failedUnits: ['docs/a.md'], durationMs: 5 };
    const done = await other.complete('batch-1', summary, T0 + 10);
    expect(done).toMatchObject({ status: 'completed', summary, completedAt: T0 + 10 });
    expect(await store.get('batch-1')).toEqual(done);
    // Completing again keeps the first summary.
    const again = await store.complete('batch-1', { ...summary, durationMs: 99 }, T0 + 20);
    expect(again).toEqual(done);
    await expect(store.complete('nope', summary, T0)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('lists open batches past their deadline until alerted, and lets exactly one alert claim them', async () => {
    await store.create(newBatch({ id: 'late-2', deadline: T0 + 20 }), T0);
    await store.create(newBatch({ id: 'late-1', deadline: T0 + 10 }), T0);
    await store.create(newBatch({ id: 'on-time', deadline: T0 + HOUR }), T0);
    await store.create(newBatch({ id: 'done', deadline: T0 + 5, phases: ['ingest'] }), T0);
    await store.complete(
      'done',
      { units: 3, succeeded: 3, failed: 0, failedUnits: [], durationMs: 1 },
      T0 + 1,
    );

    expect((await other.listOverdue(T0 + 15)).map((b) => b.id)).toEqual(['late-1']);
    const now = T0 + 30;
    expect((await other.listOverdue(now)).map((b) => b.id)).toEqual(['late-1', 'late-2']);

    const claims = await Promise.all([
      store.markOverdueAlerted('late-1', now),
      other.markOverdueAlerted('late-1', now),
      store.markOverdueAlerted('late-1', now + 1),
    ]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await other.markOverdueAlerted('late-1', now + 2)).toBe(false);
    expect((await store.get('late-1'))?.overdueAlertedAt).toBeGreaterThanOrEqual(now);
    expect((await store.listOverdue(now + 3)).map((b) => b.id)).toEqual(['late-2']);

    // Not overdue (any more): nothing to alert on.
    expect(await store.markOverdueAlerted('on-time', now)).toBe(false);
    expect(await store.markOverdueAlerted('done', now)).toBe(false);
    await expect(store.markOverdueAlerted('nope', now)).rejects.toMatchObject({ code: 'not_found' });
  });
}
