/**
 * Batches end to end on the in-process bus (the same CloudEvents Eventarc delivers) with in-memory
 * state and graph: accounting, the exactly-once phase trigger, the summary, dead letters and alerts,
 * and the same final state when every event is delivered twice and out of order.
 */
import { RecordingAlerter } from '../../../shared/alerts/recording';
import { parseConfig } from '../../../shared/config';
import { toPubSubCloudEvent } from '../../../shared/events/codec';
import type { PhaseCompletionEvent, PubSubCloudEvent } from '../../../shared/events/types';
import { silentLogger } from '../../../shared/logging';
import { decodePhaseCompletionDelivery } from '../../../shared/events/deliveries';
import type { Alerter } from '../../../shared/ports/alerter';
import type { Clock } from '../../../shared/ports/clock';
import type { EventPublisher } from '../../../shared/ports/event-publisher';
import { compose, type Composition } from '../../../shared/runtime';
import { makeCompletions } from '../../../shared/usecases/completions';
import { makePermanentFailure } from '../../../shared/usecases/permanent-failure';
import { makePhaseTransition } from '../../../shared/usecases/phase-transition';
import { makePhaseTrigger, phaseTopic, type PhaseTrigger } from '../../../shared/usecases/phase-trigger';
import { reconcile } from '../../../shared/usecases/reconcile';
import { makeWatchdog } from '../../../shared/usecases/watchdog';
import { InMemoryCompletionLedger } from '../../../shared/adapters/memory/completion-ledger';
import { MemoryGraphWriter } from '../../../shared/adapters/memory/graph-writer';

/** The use cases that take a replaced publisher, alerter or clock, built over a runtime's adapters. */
function rewired(
  runtime: Composition,
  functionName: string,
  over: { publisher?: EventPublisher; alerter?: Alerter; clock?: Clock },
) {
  const a = runtime.adapters;
  const publisher = over.publisher ?? a.publisher;
  const alerter = over.alerter ?? a.alerter;
  const clock = over.clock ?? a.pipeline.clock;
  const logger = silentLogger;
  const deadLetters = { store: a.deadLetters, alerter, clock, logger, functionName };
  const triggerPhase = makePhaseTrigger({ publisher, deadLetters, clock, logger });
  const completions = makeCompletions({
    tracker: a.tracker,
    publisher,
    alerter,
    clock,
    logger,
    functionName,
    phaseCompletionsTopic: 'phase-completions',
  });
  const failure = makePermanentFailure({
    status: a.pipeline.status,
    deadLetters,
    completions,
    alerter,
    clock,
    logger,
    functionName,
  });
  return {
    phaseTransition: makePhaseTransition({
      tracker: a.tracker,
      batches: a.batches,
      triggerPhase,
      failure,
      alerter,
      clock,
      logger,
      functionName,
      phaseCompletionsTopic: 'phase-completions',
    }),
    watchdog: makeWatchdog({ batches: a.batches, triggerPhase, alerter, clock, logger, functionName }),
  };
}

const env = {
  NEO4J_URI: 'bolt://127.0.0.1:1',
  NEO4J_PASSWORD: 'unused-in-these-tests',
  GRAPHMILL_MODE: 'local',
  STATUS_STORE: 'memory',
  COMPLETION_LEDGERS: 'memory',
  EVENT_BUS: 'local',
  GRAPHMILL_PHASES: 'ingest,review',
  HTTPS_SOURCES: 'off',
  CHUNK_SIZE: '60',
  CHUNK_OVERLAP: '10',
};

interface Harness {
  runtime: Composition;
  graph: MemoryGraphWriter;
  alerter: RecordingAlerter;
  triggers: PhaseTrigger[];
}

/** A runtime whose `review` phase is done by a worker that succeeds every unit it is given. */
function harness(
  bus: { duplicate?: boolean; reorder?: boolean } = {},
  options: { loseFirstTrigger?: boolean } = {},
): Harness {
  const graph = new MemoryGraphWriter();
  const alerter = Object.assign(new RecordingAlerter(), { flush: () => Promise.resolve() });
  let now = 1_800_000_000_000;
  const runtime = compose(parseConfig(env), silentLogger, {
    graph,
    alerter,
    clock: () => (now += 7),
    sleep: () => Promise.resolve(),
    bus,
  });
  const triggers: PhaseTrigger[] = [];
  let lost = 0;
  runtime.adapters.bus?.subscribe(phaseTopic('review'), async (event) => {
    const trigger = JSON.parse(
      Buffer.from(event.data?.message?.data ?? '', 'base64').toString('utf8'),
    ) as PhaseTrigger;
    if (options.loseFirstTrigger && lost === 0) {
      lost++; // as if the function had crashed between the batch store's commit and this publish
      return;
    }
    // Like any consumer of an at-least-once topic, the worker drops a trigger it has already handled.
    if (triggers.some((t) => t.idempotencyKey === trigger.idempotencyKey)) return;
    triggers.push(trigger);
    for (const unit of trigger.units) {
      const done: PhaseCompletionEvent = {
        eventId: `review-${trigger.batchId}-${unit}`,
        batchId: trigger.batchId,
        phase: 'review',
        unit,
        status: 'succeeded',
        occurredAt: new Date(1_800_000_000_000).toISOString(),
        correlationId: trigger.correlationId,
      };
      await runtime.adapters.publisher.publish('phase-completions', done, { idempotencyKey: done.eventId });
    }
  });
  return { runtime, graph, alerter, triggers };
}

const BROKEN = ['doc-07', 'doc-23', 'doc-41'];
async function registerFifty(runtime: Composition): Promise<string[]> {
  const ids = Array.from({ length: 50 }, (_, i) => `doc-${String(i).padStart(2, '0')}`);
  for (const id of ids) {
    // A NUL byte makes the content binary: a permanent failure.
    const content = BROKEN.includes(id)
      ? `binary\u0000${id}`
      : `Document ${id}. It has two sentences.\n\nAnd a paragraph.`;
    await runtime.adapters.pipeline.status.register({ id, source: 'inline:', content }, 0);
  }
  return ids;
}

async function finalState(h: Harness, ids: string[]) {
  const statuses = await Promise.all(
    ids.map(async (id) => [id, (await h.runtime.adapters.pipeline.status.get(id))?.status]),
  );
  const batch = await h.runtime.adapters.batches.get('batch-1');
  const deadLetters = (await h.runtime.adapters.deadLetters.list()).map((d) => [
    d.operation.kind === 'document' ? d.operation.documentId : d.id,
    d.status,
  ]);
  const completions = (await h.runtime.adapters.ledgers.firestore.list({}))
    .map((c) => `${c.documentId}/${c.phase}/${c.status}`)
    .sort();
  const analytics = (await h.runtime.adapters.ledgers.bigquery.list({}))
    .map((c) => `${c.documentId}/${c.phase}/${c.status}`)
    .sort();
  const graph = [...h.graph.documents.entries()]
    .map(([id, d]) => [id, d.version.chunkCount, d.version.contentHash])
    .sort();
  const { durationMs: _elapsed, ...summary } = batch?.summary ?? { durationMs: 0 };
  return {
    statuses,
    summary,
    batchStatus: batch?.status,
    phases: batch?.phases.map((p) => ({
      p,
      s: batch.phaseStates[p]?.succeeded,
      f: batch.phaseStates[p]?.failed,
    })),
    deadLetters: deadLetters.sort(),
    completions,
    analytics,
    graph,
    triggers: h.triggers.map((t) => [t.phase, [...t.units].sort()]),
  };
}

it('a 50-document batch: every unit accounted for, next phase triggered once, summary written, 3 failures dead-lettered', async () => {
  const h = harness();
  const ids = await registerFifty(h.runtime);
  await h.runtime.forFunction('cli').batches.submit({ batchId: 'batch-1', documentIds: ids });
  await h.runtime.adapters.bus?.drain();

  const batch = await h.runtime.adapters.batches.get('batch-1');
  expect(batch?.phaseStates['ingest']).toMatchObject({ expected: 50, succeeded: 47, failed: 3 });
  expect(batch?.phaseStates['review']).toMatchObject({ expected: 50, succeeded: 47, failed: 3 });
  expect(batch?.phaseStates['ingest']?.triggeredAt).toBeDefined();
  expect(h.triggers).toHaveLength(1);
  expect(h.triggers[0]).toMatchObject({
    batchId: 'batch-1',
    phase: 'review',
    idempotencyKey: 'batch-1:review',
  });
  expect(h.triggers[0]?.units).toHaveLength(47);
  expect(batch?.status).toBe('completed');
  expect(batch?.summary).toMatchObject({ units: 50, succeeded: 47, failed: 3, failedUnits: BROKEN });

  const failed = await h.runtime.adapters.pipeline.status.list({ status: 'failed' });
  expect(failed.map((r) => r.id)).toEqual(BROKEN);
  for (const r of failed) expect(r.error).toMatchObject({ code: 'unsupported_content', retryable: false });
  expect(await h.runtime.adapters.pipeline.status.list({ status: 'completed' })).toHaveLength(47);
  const dead = await h.runtime.adapters.deadLetters.list();
  expect(dead.map((d) => (d.operation.kind === 'document' ? d.operation.documentId : '')).sort()).toEqual(
    BROKEN,
  );
  expect(dead.every((d) => d.status === 'manual_review' && d.errorClass === 'permanent')).toBe(true);

  const summaryAlerts = h.alerter.alerts.filter((a) => a.errorType === 'batch_units_failed');
  expect(summaryAlerts).toHaveLength(1);
  expect(summaryAlerts[0]).toMatchObject({ batchId: 'batch-1' });
  // one alert per dead letter that needs a person, nothing else
  expect(h.alerter.alerts.filter((a) => a.errorType === 'unsupported_content')).toHaveLength(3);
  expect(h.alerter.alerts).toHaveLength(4);
  await h.runtime.close();
});

it('every event delivered twice and out of order gives the same final state as a clean run', async () => {
  const clean = harness();
  const ids = await registerFifty(clean.runtime);
  await clean.runtime.forFunction('cli').batches.submit({ batchId: 'batch-1', documentIds: ids });
  await clean.runtime.adapters.bus?.drain();
  const expected = await finalState(clean, ids);
  await clean.runtime.close();

  const chaotic = harness({ duplicate: true, reorder: true });
  await registerFifty(chaotic.runtime);
  await chaotic.runtime.forFunction('cli').batches.submit({ batchId: 'batch-1', documentIds: ids });
  await chaotic.runtime.adapters.bus?.drain();
  const stats = chaotic.runtime.adapters.bus?.stats();
  expect(stats?.deliveries).toBeGreaterThanOrEqual(2 * (stats?.published ?? 0) - (stats?.unrouted ?? 0) * 2);
  expect(await finalState(chaotic, ids)).toEqual(expected);
  await chaotic.runtime.close();
});

it('20 concurrent completion events for the last units of a phase trigger the next phase exactly once', async () => {
  const h = harness();
  const units = Array.from({ length: 20 }, (_, i) => `u-${i}`);
  for (const u of units)
    await h.runtime.adapters.pipeline.status.register({ id: u, source: 'inline:', content: 'x' }, 0);
  await h.runtime.adapters.batches.create(
    { id: 'b-20', units, phases: ['ingest', 'review'], deadline: Date.now() + 60_000 },
    0,
  );
  const published: string[] = [];
  const publisher = {
    publish: (topic: string, _d: unknown, o: { idempotencyKey: string }) => {
      published.push(`${topic}:${o.idempotencyKey}`);
      return Promise.resolve('id');
    },
    close: () => Promise.resolve(),
  };
  const event = (unit: string): PubSubCloudEvent =>
    toPubSubCloudEvent(
      'phase-completions',
      {
        eventId: `e-${unit}`,
        batchId: 'b-20',
        phase: 'ingest',
        unit,
        status: 'succeeded',
        occurredAt: new Date().toISOString(),
        correlationId: 'c',
      },
      {},
      { id: `m-${unit}`, time: new Date().toISOString() },
    );
  const results = await Promise.all(
    units.map((u) =>
      rewired(h.runtime, 'phaseTransition', { publisher }).phaseTransition.handleDelivery(
        decodePhaseCompletionDelivery(event(u)),
      ),
    ),
  );
  expect(results.filter((r) => r.phaseCompleted === 'ingest')).toHaveLength(1);
  expect(published).toEqual(['phase-review:b-20:review']);
  // redelivering any of them changes nothing
  await rewired(h.runtime, 'phaseTransition', { publisher }).phaseTransition.handleDelivery(
    decodePhaseCompletionDelivery(event('u-3')),
  );
  expect(published).toHaveLength(1);
  await h.runtime.close();
});

it('reconciliation repairs an injected gap in each direction and reports it', async () => {
  const firestore = new InMemoryCompletionLedger();
  const bigquery = new InMemoryCompletionLedger();
  const base = { phase: 'ingest', status: 'succeeded' as const, occurredAt: 1000 };
  await firestore.record({ ...base, completionId: 'both', documentId: 'a' });
  await bigquery.record({ ...base, completionId: 'both', documentId: 'a' });
  await firestore.record({ ...base, completionId: 'only-firestore', documentId: 'b' });
  await bigquery.record({ ...base, completionId: 'only-bigquery', documentId: 'c' });
  const passThrough = {
    execute: <T>(fn: (s: AbortSignal) => Promise<T>) => fn(new AbortController().signal),
  };
  const deps = {
    firestore,
    bigquery,
    firestorePolicy: passThrough,
    bigqueryPolicy: passThrough,
    logger: silentLogger,
  };
  const report = await reconcile(deps, { since: 0, until: 10_000 });
  expect(report).toMatchObject({
    firestoreRecords: 2,
    bigqueryRecords: 2,
    repairedInFirestore: ['only-bigquery'],
    repairedInBigquery: ['only-firestore'],
    failed: [],
  });
  expect((await firestore.list()).map((r) => r.completionId).sort()).toEqual([
    'both',
    'only-bigquery',
    'only-firestore',
  ]);
  expect((await bigquery.list()).map((r) => r.completionId).sort()).toEqual([
    'both',
    'only-bigquery',
    'only-firestore',
  ]);
  const again = await reconcile(deps, { since: 0, until: 10_000 });
  expect(again.repairedInFirestore).toEqual([]);
  expect(again.repairedInBigquery).toEqual([]);
  expect(again.aggregatesRefreshed).toBe(false);

  // A ledger with a batch-maintained aggregate (BigQuery) is refreshed over the same window, after repairs.
  const refreshed: number[] = [];
  const withAggregates = Object.assign(bigquery, {
    refreshAggregates: ({ since }: { since: number }) => Promise.resolve(void refreshed.push(since)),
  });
  const third = await reconcile({ ...deps, bigquery: withAggregates }, { since: 5, until: 10_000 });
  expect(third.aggregatesRefreshed).toBe(true);
  expect(refreshed).toEqual([5]);
});

it('the watchdog alerts once per batch past its deadline, and marks it', async () => {
  const h = harness();
  const alerter = new RecordingAlerter();
  let now = 1_000_000;
  const deps = rewired(h.runtime, 'watchdog', { alerter, clock: () => now }).watchdog;
  await h.runtime.adapters.batches.create(
    { id: 'late', units: ['x'], phases: ['ingest'], deadline: 2_000_000 },
    now,
  );
  await h.runtime.adapters.batches.create(
    { id: 'on-time', units: ['y'], phases: ['ingest'], deadline: 9_000_000 },
    now,
  );
  expect(await deps.run()).toEqual([]);
  now = 2_000_001;
  expect(await deps.run()).toEqual(['late']);
  expect(await deps.run()).toEqual([]);
  expect(alerter.alerts).toEqual([expect.objectContaining({ errorType: 'batch_overdue', batchId: 'late' })]);
  expect((await h.runtime.adapters.batches.get('late'))?.overdueAlertedAt).toBe(2_000_001);
  await h.runtime.close();
});

it('a failed unit that succeeds on replay after the batch completed revises the summary, and says so once', async () => {
  const graph = new MemoryGraphWriter();
  const alerter = Object.assign(new RecordingAlerter(), { flush: () => Promise.resolve() });
  let now = 1_800_000_000_000;
  const runtime = compose(parseConfig({ ...env, GRAPHMILL_PHASES: 'ingest' }), silentLogger, {
    graph,
    alerter,
    clock: () => (now += 7),
    sleep: () => Promise.resolve(),
    bus: {},
  });
  try {
    const status = runtime.adapters.pipeline.status;
    await status.register({ id: 'ok-1', source: 'inline:', content: 'Fine. Words.' }, 0);
    await status.register({ id: 'ok-2', source: 'inline:', content: 'Also fine.' }, 0);
    await status.register({ id: 'bad', source: 'inline:', content: 'binary\u0000content' }, 0);
    const deps = runtime.forFunction('cli');
    await deps.batches.submit({ batchId: 'late', documentIds: ['ok-1', 'ok-2', 'bad'] });
    await runtime.adapters.bus?.drain();
    const first = await runtime.adapters.batches.get('late');
    expect(first).toMatchObject({ status: 'completed', summary: { failed: 1, failedUnits: ['bad'] } });
    expect(first?.summaryRevisedAt).toBeUndefined();

    // Someone fixes the document and replays its dead letter.
    await status.register({ id: 'bad', source: 'inline:', content: 'Fixed now. Two sentences.' }, 1);
    const [dead] = await runtime.adapters.deadLetters.list();
    expect(dead?.operation).toMatchObject({ kind: 'document', documentId: 'bad', batchId: 'late' });
    await deps.replay.replayOperation(dead?.operation as NonNullable<typeof dead>['operation']);
    await runtime.adapters.bus?.drain();

    const revised = await runtime.adapters.batches.get('late');
    expect(revised).toMatchObject({
      status: 'completed',
      completedAt: first?.completedAt,
      summary: { units: 3, succeeded: 3, failed: 0, failedUnits: [], durationMs: first?.summary?.durationMs },
    });
    expect(revised?.summaryRevisedAt).toBeGreaterThan(first?.completedAt ?? Infinity);
    const notes = alerter.alerts.filter((a) => a.errorType === 'batch_summary_revised');
    expect(notes).toHaveLength(1);
    expect(notes[0]?.title).toBe('Batch late: every unit has now succeeded (1 had failed)');

    // The replayed completion delivered again changes nothing and says nothing.
    await deps.replay.replayOperation(dead?.operation as NonNullable<typeof dead>['operation']);
    await runtime.adapters.bus?.drain();
    expect(alerter.alerts.filter((a) => a.errorType === 'batch_summary_revised')).toHaveLength(1);
    expect((await runtime.adapters.batches.get('late'))?.summaryRevisedAt).toBe(revised?.summaryRevisedAt);
  } finally {
    await runtime.close();
  }
});

it('a unit replayed into success after its phase completed gets the next phase on its own, and the summary follows', async () => {
  const h = harness();
  const ids = await registerFifty(h.runtime);
  const deps = h.runtime.forFunction('cli');
  await deps.batches.submit({ batchId: 'batch-1', documentIds: ids });
  await h.runtime.adapters.bus?.drain();
  expect((await h.runtime.adapters.batches.get('batch-1'))?.summary).toMatchObject({
    failed: 3,
    failedUnits: BROKEN,
  });
  expect(h.triggers.map((t) => t.idempotencyKey)).toEqual(['batch-1:review']);

  // One broken document is fixed and its dead letter replayed: it now passes `ingest`, whose trigger for
  // `review` went out long ago without it.
  const fixed = BROKEN[0] as string;
  await h.runtime.adapters.pipeline.status.register(
    { id: fixed, source: 'inline:', content: 'Fixed. Now text.' },
    1,
  );
  const dead = (await h.runtime.adapters.deadLetters.list()).find(
    (d) => d.operation.kind === 'document' && d.operation.documentId === fixed,
  );
  expect(dead).toBeDefined();
  await deps.replay.replayOperation((dead as NonNullable<typeof dead>).operation);
  await h.runtime.adapters.bus?.drain();

  expect(h.triggers.map((t) => [t.idempotencyKey, [...t.units]])).toEqual([
    ['batch-1:review', expect.any(Array)],
    [`batch-1:review:${fixed}`, [fixed]],
  ]);
  const batch = await h.runtime.adapters.batches.get('batch-1');
  expect(batch?.phaseStates['ingest']).toMatchObject({ succeeded: 48, failed: 2 });
  expect(batch?.phaseStates['review']).toMatchObject({ succeeded: 48, failed: 2 });
  expect(batch?.summary).toMatchObject({ succeeded: 48, failed: 2, failedUnits: BROKEN.slice(1) });
  const revised = h.alerter.alerts.filter((a) => a.errorType === 'batch_summary_revised');
  expect(revised).toHaveLength(1);
  expect(revised[0]?.title).toBe('Batch batch-1 now has 2 of 50 units failed (was 3)');

  // The replayed completion delivered again triggers nothing more.
  await deps.replay.replayOperation((dead as NonNullable<typeof dead>).operation);
  await h.runtime.adapters.bus?.drain();
  expect(h.triggers).toHaveLength(2);
  await h.runtime.close();
});

it('the watchdog publishes again a trigger that never reached the next phase, and the batch completes', async () => {
  const h = harness({}, { loseFirstTrigger: true });
  const ids = await registerFifty(h.runtime);
  const deps = h.runtime.forFunction('watchdog');
  await deps.batches.submit({ batchId: 'batch-1', documentIds: ids, deadline: 1_800_000_000_100 });
  await h.runtime.adapters.bus?.drain();
  const stalled = await h.runtime.adapters.batches.get('batch-1');
  expect(stalled?.status).toBe('open');
  expect(stalled?.phaseStates['ingest']?.triggeredAt).toBeDefined();
  expect(stalled?.phaseStates['review']).toMatchObject({ succeeded: 0, failed: 3 }); // the carried failures
  expect(h.triggers).toHaveLength(0);

  expect(await deps.watchdog.run()).toEqual(['batch-1']);
  await h.runtime.adapters.bus?.drain();
  expect(h.triggers.map((t) => [t.idempotencyKey, t.units.length])).toEqual([['batch-1:review', 47]]);
  const done = await h.runtime.adapters.batches.get('batch-1');
  expect(done).toMatchObject({ status: 'completed', summary: { failed: 3, failedUnits: BROKEN } });
  const overdue = h.alerter.alerts.filter((a) => a.errorType === 'batch_overdue');
  expect(overdue).toHaveLength(1);
  expect(overdue[0]?.message).toContain('no unit had reached review, so its trigger was published again');

  // Completed and alerted once: a second pass has nothing to do.
  expect(await deps.watchdog.run()).toEqual([]);
  await h.runtime.close();
});

it('the watchdog publishes again only where the next phase holds nothing but carried failures', async () => {
  const h = harness();
  const t0 = 1_000_000;
  const deps = rewired(h.runtime, 'watchdog', { clock: () => t0 + 10_000 }).watchdog;
  // Both batches completed `ingest` with one failure carried into `review`; in `moving`, `review` has
  // since recorded a success (its trigger was delivered), in `stalled` it has recorded nothing.
  for (const id of ['stalled', 'moving']) {
    await h.runtime.adapters.batches.create(
      { id, units: ['x', 'y', 'z'], phases: ['ingest', 'review'], deadline: t0 + 100 },
      t0,
    );
    await h.runtime.adapters.batches.recordUnit(id, 'ingest', 'x', 'failed', t0 + 1);
    await h.runtime.adapters.batches.recordUnit(id, 'ingest', 'y', 'succeeded', t0 + 2);
    const done = await h.runtime.adapters.batches.recordUnit(id, 'ingest', 'z', 'succeeded', t0 + 3);
    expect(done).toMatchObject({ phaseCompleted: 'ingest', nextPhase: 'review' });
  }
  await h.runtime.adapters.batches.recordUnit('moving', 'review', 'y', 'succeeded', t0 + 4);
  expect((await h.runtime.adapters.batches.get('stalled'))?.phaseStates['review']).toMatchObject({
    succeeded: 0,
    failed: 1,
  });

  expect((await deps.run()).sort()).toEqual(['moving', 'stalled']);
  await h.runtime.adapters.bus?.drain();
  expect(h.triggers.map((t) => [t.batchId, [...t.units]])).toEqual([['stalled', ['y', 'z']]]);
  const overdue = new Map(
    h.alerter.alerts.filter((a) => a.errorType === 'batch_overdue').map((a) => [a.batchId, a.message]),
  );
  expect(overdue.get('stalled')).toContain('no unit had reached review, so its trigger was published again');
  expect(overdue.get('moving')).toContain('phases not complete: review');
  expect(overdue.get('moving')).not.toContain('published again');
  await h.runtime.close();
});

it('a batch whose units all fail the first of three phases completes at once, without empty triggers', async () => {
  const alerter = Object.assign(new RecordingAlerter(), { flush: () => Promise.resolve() });
  let now = 1_800_000_000_000;
  const runtime = compose(parseConfig({ ...env, GRAPHMILL_PHASES: 'ingest,review,publish' }), silentLogger, {
    graph: new MemoryGraphWriter(),
    alerter,
    clock: () => (now += 7),
    sleep: () => Promise.resolve(),
    bus: {},
  });
  const published: string[] = [];
  for (const phase of ['review', 'publish']) {
    runtime.adapters.bus?.subscribe(phaseTopic(phase), () => {
      published.push(phase);
      return Promise.resolve();
    });
  }
  try {
    const ids = ['bin-1', 'bin-2', 'bin-3'];
    for (const id of ids) {
      await runtime.adapters.pipeline.status.register(
        { id, source: 'inline:', content: `binary\u0000${id}` },
        0,
      );
    }
    await runtime.forFunction('cli').batches.submit({ batchId: 'all-fail', documentIds: ids });
    await runtime.adapters.bus?.drain();
    const batch = await runtime.adapters.batches.get('all-fail');
    expect(batch).toMatchObject({ status: 'completed', summary: { failed: 3, succeeded: 0 } });
    for (const phase of ['review', 'publish']) {
      expect(batch?.phaseStates[phase]).toMatchObject({ failed: 3, succeeded: 0 });
    }
    expect(published).toEqual([]);
  } finally {
    await runtime.close();
  }
});
