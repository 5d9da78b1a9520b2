/**
 * The four scenarios graphmill learns from, each with fault-injecting ledgers: the returned tuple, the
 * log severity, and whether an alert went out.
 */
import { openMemoryDatabase } from '../../../shared/adapters/sqlite/database';
import { SqliteCompletionLedger } from '../../../shared/adapters/sqlite/completion-ledger';
import { RecordingAlerter } from '../../../shared/alerts/recording';
import { dependencyUnavailable } from '../../../shared/errors';
import { RESILIENCE_PRESETS, makeResilientPolicy } from '../../../shared/resilience';
import { fixedRandom, makeFakeTime } from '../../../shared/resilience/testing';
import { InMemoryCompletionLedger } from '../../../shared/adapters/memory/completion-ledger';
import { makeCompletionTracker, reportTracking, reportTrackingMany } from '../../../shared/tracking/tracker';
import type { CompletionRecord } from '../../../shared/tracking/types';
import type { CompletionLedger } from '../../../shared/ports/completion-ledger';
import { makeCapturingLogger } from '../../support/capturing-logger';

/** A ledger whose writes fail the first `failures` times (Infinity: always). */
class FlakyLedger implements CompletionLedger {
  calls = 0;
  constructor(
    readonly inner: InMemoryCompletionLedger,
    private failures: number,
  ) {}
  record(r: CompletionRecord) {
    this.calls++;
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(dependencyUnavailable('store is down'));
    }
    return this.inner.record(r);
  }
  get(id: string) {
    return this.failures > 0 ? Promise.reject(dependencyUnavailable('store is down')) : this.inner.get(id);
  }
  list() {
    return this.failures > 0 ? Promise.reject(dependencyUnavailable('store is down')) : this.inner.list();
  }
  aggregate(d: string, p: string) {
    return this.failures > 0
      ? Promise.reject(dependencyUnavailable('store is down'))
      : this.inner.aggregate(d, p);
  }
}

const record: CompletionRecord = {
  completionId: 'c-1',
  documentId: 'doc-1',
  batchId: 'b-1',
  phase: 'ingest',
  status: 'succeeded',
  chunkCount: 3,
  occurredAt: 1_000,
  correlationId: 'corr-1',
};

function setup(firestoreFailures: number, bigqueryFailures: number) {
  const time = makeFakeTime(0);
  const logger = makeCapturingLogger();
  const alerter = new RecordingAlerter();
  const deps = { clock: time.clock, sleep: time.sleep, random: fixedRandom(0.5), logger };
  const firestore = new FlakyLedger(new InMemoryCompletionLedger(), firestoreFailures);
  const bigquery = new FlakyLedger(new InMemoryCompletionLedger(), bigqueryFailures);
  const firestorePolicy = makeResilientPolicy('firestore', RESILIENCE_PRESETS.firestore, deps);
  const tracker = makeCompletionTracker({
    firestore,
    bigquery,
    firestorePolicy,
    bigqueryPolicy: makeResilientPolicy('bigquery', RESILIENCE_PRESETS.bigquery, deps),
    logger,
  });
  const track = async () => {
    const result = await tracker.record(record);
    await reportTracking(result, { functionName: 'phaseTransition', record, logger, alerter });
    return result;
  };
  return { time, logger, alerter, firestore, bigquery, tracker, track, firestorePolicy };
}

const levels = (logger: ReturnType<typeof makeCapturingLogger>) =>
  logger.entries
    .filter((e) => e.level === 'warn' || e.level === 'error' || e.level === 'critical')
    .map((e) => e.level);

it('Firestore down, BigQuery up: {firestore: false, bigquery: true}, WARNING, no alert', async () => {
  const s = setup(Infinity, 0);
  expect(await s.track()).toEqual({ firestore: false, bigquery: true });
  expect(levels(s.logger)).toContain('warn');
  expect(levels(s.logger)).not.toContain('critical');
  expect(s.logger.entries.some((e) => e.message.includes('BigQuery only'))).toBe(true);
  expect(s.alerter.alerts).toEqual([]);
  expect(await s.bigquery.inner.get('c-1')).toEqual(record);
  // bounded: the retry stopped at its attempt limit (the breaker may stop it earlier)
  expect(s.firestore.calls).toBeLessThanOrEqual(RESILIENCE_PRESETS.firestore.retry.maxAttempts);
});

it('BigQuery down, Firestore up: {firestore: true, bigquery: false}, WARNING, no alert', async () => {
  const s = setup(0, Infinity);
  expect(await s.track()).toEqual({ firestore: true, bigquery: false });
  expect(levels(s.logger)).toContain('warn');
  expect(levels(s.logger)).not.toContain('critical');
  expect(s.alerter.alerts).toEqual([]);
  expect(s.bigquery.calls).toBe(RESILIENCE_PRESETS.bigquery.retry.maxAttempts);
});

it('both down: {false, false}, CRITICAL with the record, and one alert', async () => {
  const s = setup(Infinity, Infinity);
  expect(await s.track()).toEqual({ firestore: false, bigquery: false });
  const critical = s.logger.entries.filter((e) => e.level === 'critical');
  expect(critical).toHaveLength(1);
  expect(critical[0]?.fields['record']).toEqual(record);
  expect(s.alerter.alerts).toHaveLength(1);
  expect(s.alerter.alerts[0]).toMatchObject({
    severity: 'critical',
    documentId: 'doc-1',
    batchId: 'b-1',
    correlationId: 'corr-1',
  });
});

it('a transient Firestore error succeeds on retry: {true, true}, no warning, no alert', async () => {
  const s = setup(1, 0);
  expect(await s.track()).toEqual({ firestore: true, bigquery: true });
  expect(s.firestore.calls).toBe(2);
  expect(s.time.sleeps.length).toBeGreaterThanOrEqual(1);
  expect(levels(s.logger).filter((l) => l === 'critical' || l === 'error')).toEqual([]);
  expect(s.logger.entries.some((e) => e.message.includes('only'))).toBe(false);
  expect(s.alerter.alerts).toEqual([]);
});

it('reads completion state from BigQuery while Firestore is down, and the breaker stops hammering it', async () => {
  const s = setup(Infinity, 0);
  await s.bigquery.inner.record(record);
  for (let i = 0; i < 3; i++) await s.track();
  expect(s.firestorePolicy.breaker?.state()).toBe('open');
  const callsWhileOpen = s.firestore.calls;
  const agg = await s.tracker.aggregate('doc-1', 'ingest');
  expect(agg).toMatchObject({ documentId: 'doc-1', status: 'succeeded' });
  await s.track();
  expect(s.firestore.calls).toBe(callsWhileOpen); // open breaker: Firestore not called at all
  s.time.advance(30_000);
  await s.track(); // half-open: one probe
  expect(s.firestore.calls).toBe(callsWhileOpen + 1);
});

describe('recordMany', () => {
  const records: CompletionRecord[] = [1, 2, 3].map((i) => ({
    ...record,
    completionId: `c-${i}`,
    documentId: `doc-${i}`,
    occurredAt: 1_000 + i,
  }));

  /** A tracker over the given ledgers, with the real presets and injected time. */
  function trackerOver(firestore: CompletionLedger, bigquery: CompletionLedger) {
    const time = makeFakeTime(0);
    const logger = makeCapturingLogger();
    const deps = { clock: time.clock, sleep: time.sleep, random: fixedRandom(0.5), logger };
    const tracker = makeCompletionTracker({
      firestore,
      bigquery,
      firestorePolicy: makeResilientPolicy('firestore', RESILIENCE_PRESETS.firestore, deps),
      bigqueryPolicy: makeResilientPolicy('bigquery', RESILIENCE_PRESETS.bigquery, deps),
      logger,
    });
    return { tracker, logger, time };
  }
  /** A ledger with a native recordMany (the SQLite one, on an in-memory database). */
  const batchLedger = () => new SqliteCompletionLedger(openMemoryDatabase());
  /** The tracker's own warnings about a ledger write that failed (the retries log theirs too). */
  const notWritten = (logger: ReturnType<typeof makeCapturingLogger>) =>
    logger.entries.filter((e) => e.level === 'warn' && e.message.startsWith('completion not written'));

  it('writes every record to each ledger: with one recordMany call where it has one, else one by one', async () => {
    const batched = batchLedger();
    const plain = new InMemoryCompletionLedger();
    const recordMany = jest.spyOn(batched, 'recordMany');
    const batchedRecord = jest.spyOn(batched, 'record');
    const plainRecord = jest.spyOn(plain, 'record');
    const { tracker, logger } = trackerOver(batched, plain);

    expect(await tracker.recordMany(records)).toEqual({ firestore: true, bigquery: true });

    expect(recordMany).toHaveBeenCalledTimes(1);
    expect(recordMany).toHaveBeenCalledWith(records);
    expect(batchedRecord).not.toHaveBeenCalled();
    expect(plainRecord.mock.calls.map(([r]) => r.completionId)).toEqual(['c-1', 'c-2', 'c-3']);
    expect(await batched.list()).toEqual(records);
    expect(await plain.list()).toEqual(records);
    expect(logger.entries.filter((e) => e.level === 'warn')).toEqual([]);
  });

  it('a failed ledger is reported in the result and warned about with the record count', async () => {
    const batched = batchLedger();
    const down = new FlakyLedger(new InMemoryCompletionLedger(), Infinity);
    const { tracker, logger } = trackerOver(down, batched);

    expect(await tracker.recordMany(records)).toEqual({ firestore: false, bigquery: true });

    expect(await batched.list()).toEqual(records);
    const warned = notWritten(logger);
    expect(warned.map((e) => e.message)).toEqual(['completion not written to firestore']);
    expect(warned[0]?.fields).toMatchObject({
      store: 'firestore',
      records: 3,
      completionId: 'c-1',
      code: 'dependency_unavailable',
    });
    // bounded by the Firestore retry (the breaker may stop it earlier)
    expect(down.calls).toBeLessThanOrEqual(RESILIENCE_PRESETS.firestore.retry.maxAttempts);
  });

  it("retries a ledger whose recordMany fails, behind that ledger's own policy", async () => {
    const batched = batchLedger();
    const recordMany = jest.spyOn(batched, 'recordMany').mockRejectedValue(dependencyUnavailable('down'));
    const plain = new InMemoryCompletionLedger();
    const { tracker, logger } = trackerOver(plain, batched);

    expect(await tracker.recordMany(records)).toEqual({ firestore: true, bigquery: false });

    expect(recordMany).toHaveBeenCalledTimes(RESILIENCE_PRESETS.bigquery.retry.maxAttempts);
    expect(await plain.list()).toEqual(records);
    expect(notWritten(logger).map((e) => [e.message, e.fields['records']])).toEqual([
      ['completion not written to bigquery', 3],
    ]);
  });

  it('a transient failure part-way through the one-by-one fallback is retried and every record lands once', async () => {
    const ledger = new InMemoryCompletionLedger();
    const write = ledger.record.bind(ledger);
    let blipped = false;
    const recordSpy = jest.spyOn(ledger, 'record').mockImplementation((r) => {
      if (r.completionId !== 'c-2' || blipped) return write(r);
      blipped = true;
      return Promise.reject(dependencyUnavailable('blip'));
    });
    const { tracker, time } = trackerOver(ledger, batchLedger());

    expect(await tracker.recordMany(records)).toEqual({ firestore: true, bigquery: true });

    // The retry writes the set again from the start; c-1 is written twice and counted once.
    expect(recordSpy.mock.calls.map(([r]) => r.completionId)).toEqual(['c-1', 'c-2', 'c-1', 'c-2', 'c-3']);
    expect(time.sleeps).toHaveLength(1);
    expect(await ledger.list()).toEqual(records);
    expect((await ledger.aggregate('doc-1', 'ingest'))?.completions).toBe(1);
  });

  it('a single failed record is warned about without a records count', async () => {
    const down = new FlakyLedger(new InMemoryCompletionLedger(), Infinity);
    const { tracker, logger } = trackerOver(down, new InMemoryCompletionLedger());

    expect(await tracker.recordMany([record])).toEqual({ firestore: false, bigquery: true });

    const warned = notWritten(logger);
    expect(warned).toHaveLength(1);
    expect(warned[0]?.fields).toMatchObject({ store: 'firestore', completionId: 'c-1' });
    expect(warned[0]?.fields).not.toHaveProperty('records');
  });

  it('an empty list succeeds without calling either ledger', async () => {
    const batched = batchLedger();
    const plain = new InMemoryCompletionLedger();
    const spies = [
      jest.spyOn(batched, 'recordMany'),
      jest.spyOn(batched, 'record'),
      jest.spyOn(plain, 'record'),
    ];
    const { tracker, logger, time } = trackerOver(batched, plain);

    expect(await tracker.recordMany([])).toEqual({ firestore: true, bigquery: true });

    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    expect(logger.entries).toEqual([]);
    expect(time.sleeps).toEqual([]);
  });
});

describe('reportTrackingMany', () => {
  const records = ['c-1', 'c-2', 'c-3'].map((completionId, i) => ({
    ...record,
    completionId,
    documentId: `doc-${i + 1}`,
  }));
  let logger: ReturnType<typeof makeCapturingLogger>;
  let alerter: RecordingAlerter;
  beforeEach(() => {
    logger = makeCapturingLogger();
    alerter = new RecordingAlerter();
  });
  const report = (firestore: boolean, bigquery: boolean) =>
    reportTrackingMany({ firestore, bigquery }, records, { functionName: 'cli', logger, alerter });

  it('both down: a CRITICAL line with each record, and one alert for all of them', async () => {
    await report(false, false);
    const critical = logger.entries.filter((e) => e.level === 'critical');
    expect(critical.map((e) => e.fields['record'])).toEqual(records);
    expect(alerter.alerts).toHaveLength(1);
    expect(alerter.alerts[0]).toMatchObject({ severity: 'critical', errorType: 'tracking_failed' });
    expect(alerter.alerts[0]?.message).toMatch(
      /^3 completions \(doc-1 and 2 more\) were not recorded anywhere/,
    );
  });

  it('one down: a WARNING per record and no alert; both up: nothing', async () => {
    await report(true, false);
    expect(levels(logger)).toEqual(['warn', 'warn', 'warn']);
    await report(false, true);
    expect(levels(logger)).toEqual(['warn', 'warn', 'warn', 'warn', 'warn', 'warn']);
    await report(true, true);
    expect(logger.entries).toHaveLength(6);
    expect(alerter.alerts).toEqual([]);
  });
});
