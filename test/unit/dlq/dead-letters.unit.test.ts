/** Dead-letter schedules per error class, replay, exhaustion to manual review (alerted once), resolve. */
import { RecordingAlerter } from '../../../shared/alerts/recording';
import { InMemoryDeadLetterStore } from '../../../shared/adapters/memory/dead-letter-store';
import {
  DEFAULT_SCHEDULE,
  deadLetterIdFor,
  errorClassOf,
  markResolved,
  nextAttemptAt,
  recordFailure,
  requeue,
} from '../../../shared/dlq/policy';
import { replayDue, replayOne, writeDeadLetter } from '../../../shared/dlq/replay';
import type { DeadLetterOperation } from '../../../shared/dlq/types';
import {
  badRequest,
  dependencyTimeout,
  dependencyUnavailable,
  unsupportedContent,
  type GraphmillError,
} from '../../../shared/errors';
import { silentLogger } from '../../../shared/logging';

const MIN = 60_000;
const T0 = 1_800_000_000_000;
const op: DeadLetterOperation = {
  kind: 'document',
  documentId: 'doc-1',
  action: 'process_document',
  batchId: 'b1',
};

describe('policy', () => {
  it('classifies errors: connection, timeout, permanent', () => {
    expect(errorClassOf(dependencyUnavailable('down'))).toBe('connection');
    expect(errorClassOf(dependencyTimeout('slow'))).toBe('timeout');
    expect(errorClassOf(unsupportedContent('binary'))).toBe('permanent');
    expect(errorClassOf(badRequest('bad'))).toBe('permanent');
  });

  it('schedules connection errors exponentially (1, 2, 4, 8 ... min, capped at 6 h)', () => {
    const delays = [1, 2, 3, 4, 5, 10, 12].map((a) => (nextAttemptAt('exponential', a, T0) as number) - T0);
    expect(delays).toEqual([1 * MIN, 2 * MIN, 4 * MIN, 8 * MIN, 16 * MIN, 360 * MIN, 360 * MIN]);
  });

  it('schedules timeouts linearly (5, 10, 15 ... min) and permanent errors not at all', () => {
    expect([1, 2, 3].map((a) => (nextAttemptAt('linear', a, T0) as number) - T0)).toEqual([
      5 * MIN,
      10 * MIN,
      15 * MIN,
    ]);
    expect(nextAttemptAt('manual', 1, T0)).toBeUndefined();
  });

  it('walks a connection failure through its schedule until it is out of attempts', () => {
    let entry = recordFailure(undefined, op, dependencyUnavailable('down'), T0);
    expect(entry).toMatchObject({
      status: 'pending',
      attempts: 1,
      strategy: 'exponential',
      nextAttemptAt: T0 + MIN,
    });
    expect(entry.id).toBe(deadLetterIdFor(op));
    for (let i = 2; i <= DEFAULT_SCHEDULE.maxAttempts; i++) {
      entry = recordFailure(entry, op, dependencyUnavailable('still down'), T0 + i);
    }
    expect(entry).toMatchObject({ status: 'manual_review', attempts: DEFAULT_SCHEDULE.maxAttempts });
    expect(entry.nextAttemptAt).toBeUndefined();
    expect(entry.history).toHaveLength(DEFAULT_SCHEDULE.maxAttempts);
    expect(entry.createdAt).toBe(T0);
  });

  it('sends a permanent failure straight to manual review', () => {
    const entry = recordFailure(undefined, op, unsupportedContent('binary'), T0);
    expect(entry).toMatchObject({
      status: 'manual_review',
      strategy: 'manual',
      errorClass: 'permanent',
      attempts: 1,
    });
  });

  it('resolves and requeues', () => {
    const entry = recordFailure(undefined, op, unsupportedContent('binary'), T0);
    expect(requeue(entry, T0 + 5)).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 5 });
    const resolved = markResolved(entry, T0 + 9, 'fixed by hand');
    expect(resolved).toMatchObject({ status: 'resolved', resolvedAt: T0 + 9, resolution: 'fixed by hand' });
  });
});

describe('writeDeadLetter and replay', () => {
  let now: number;
  let store: InMemoryDeadLetterStore;
  let alerter: RecordingAlerter;
  const deps = () => ({
    store,
    alerter,
    clock: () => now,
    logger: silentLogger,
    functionName: 'replayDeadLetters',
  });

  beforeEach(() => {
    now = T0;
    store = new InMemoryDeadLetterStore();
    alerter = new RecordingAlerter();
  });

  it('replays a due entry through the pipeline and resolves it', async () => {
    await writeDeadLetter(deps(), op, dependencyUnavailable('neo4j down'));
    const ran: DeadLetterOperation[] = [];
    const notYet = await replayDue({ ...deps(), run: (o) => Promise.resolve(void ran.push(o)) });
    expect(notYet.claimed).toBe(0); // not due before its backoff
    now += MIN;
    const summary = await replayDue({ ...deps(), run: (o) => Promise.resolve(void ran.push(o)) });
    expect(summary).toMatchObject({ claimed: 1, succeeded: 1, failed: 0 });
    expect(ran).toEqual([op]);
    expect(await store.get(deadLetterIdFor(op))).toMatchObject({
      status: 'resolved',
      resolution: 'replayed',
    });
    expect(alerter.alerts).toEqual([]);
  });

  it('exhausts to manual review with exactly one alert', async () => {
    const failing = (): Promise<void> => Promise.reject(dependencyUnavailable('still down'));
    await writeDeadLetter(deps(), op, dependencyUnavailable('down'));
    for (let i = 0; i < 20; i++) {
      now += 7 * 3_600_000; // past any backoff
      await replayDue({ ...deps(), run: failing });
    }
    const entry = await store.get(deadLetterIdFor(op));
    expect(entry).toMatchObject({ status: 'manual_review', attempts: DEFAULT_SCHEDULE.maxAttempts });
    expect(alerter.alerts).toHaveLength(1);
    expect(alerter.alerts[0]).toMatchObject({
      documentId: 'doc-1',
      batchId: 'b1',
      errorType: 'dependency_unavailable',
    });
    const replayed = await replayDue({ ...deps(), run: failing });
    expect(replayed.claimed).toBe(0); // manual review entries are never replayed automatically
  });

  it('alerts a permanent failure once, however often it is written', async () => {
    const e: GraphmillError = unsupportedContent('binary');
    await writeDeadLetter(deps(), op, e);
    await writeDeadLetter(deps(), op, e);
    expect(alerter.alerts).toHaveLength(1);
    expect(await store.list({ status: 'manual_review' })).toHaveLength(1);
  });

  it('replays one entry by hand, and a manual fix resolves it', async () => {
    const entry = await writeDeadLetter(deps(), op, unsupportedContent('binary'));
    expect(await replayOne({ ...deps(), run: () => Promise.resolve() }, entry.id)).toBe('succeeded');
    expect(await store.get(entry.id)).toMatchObject({ status: 'resolved' });
    await expect(replayOne({ ...deps(), run: () => Promise.resolve() }, 'nope')).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('a timeout that keeps failing moves to the linear schedule', async () => {
    await writeDeadLetter(deps(), op, dependencyTimeout('slow'));
    now += 5 * MIN;
    await replayDue({ ...deps(), run: () => Promise.reject(dependencyTimeout('slow again')) });
    expect(await store.get(deadLetterIdFor(op))).toMatchObject({
      status: 'pending',
      attempts: 2,
      strategy: 'linear',
      nextAttemptAt: now + 10 * MIN,
    });
  });
});
