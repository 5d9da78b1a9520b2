import { badRequest, dependencyUnavailable } from '../../../shared/errors';
import { makeRetry, type RetryOptions } from '../../../shared/resilience';
import { fixedRandom, makeFakeTime, type FakeTime } from '../../../shared/resilience/testing';
import { makeCapturingLogger } from '../../support/capturing-logger';

const unavailable = (): Error => Object.assign(new Error('upstream 503'), { status: 503 });
/** An Error carrying the given structured fields (what HTTP, gRPC and socket errors look like). */
const errorWith = (fields: Record<string, unknown>): Error => Object.assign(new Error('failure'), fields);

/** A function that fails with `errors` in order, then returns 'ok'. Counts its calls. */
function failing(...errors: Error[]): jest.Mock<Promise<string>, [AbortSignal]> {
  let i = 0;
  return jest.fn((_signal: AbortSignal) => {
    const err = errors[i++];
    return err === undefined ? Promise.resolve('ok') : Promise.reject(err);
  });
}
const alwaysFailing = (err: () => Error): jest.Mock<Promise<never>, [AbortSignal]> =>
  jest.fn((_signal: AbortSignal) => Promise.reject(err()));

function setup(overrides: Partial<RetryOptions> = {}, time: FakeTime = makeFakeTime(1_000)) {
  const logger = makeCapturingLogger();
  const retry = makeRetry({
    name: 'firestore',
    maxAttempts: 6,
    initialDelayMs: 100,
    maxDelayMs: 1_000,
    maxTotalMs: 60_000,
    clock: time.clock,
    sleep: time.sleep,
    random: fixedRandom(0.5),
    logger,
    ...overrides,
  });
  return { retry, time, logger };
}

describe('makeRetry', () => {
  it('backs off exponentially with full jitter: floor(random * min(max, initial * 2^(n-1)))', async () => {
    const { retry, time } = setup();
    const fn = alwaysFailing(unavailable);

    await expect(retry.execute(fn)).rejects.toMatchObject({ status: 503 });

    expect(fn).toHaveBeenCalledTimes(6);
    // 0.5 * 100, 200, 400, 800, then the 1000 ms cap.
    expect(time.sleeps).toEqual([50, 100, 200, 400, 500]);
    expect(retry.stats()).toEqual({ retries: 5, giveUps: 1, successes: 0 });
  });

  it('uses each random draw in turn', async () => {
    const { retry, time } = setup({ random: fixedRandom(0, 0.25, 0.999) });
    await expect(retry.execute(alwaysFailing(unavailable))).rejects.toThrow();
    expect(time.sleeps).toEqual([0, 50, 399, 799, 999]);
  });

  it('returns the value once a retry succeeds', async () => {
    const { retry, time } = setup();
    const fn = failing(unavailable(), errorWith({ code: 'ECONNRESET' }));

    await expect(retry.execute(fn)).resolves.toBe('ok');

    expect(fn).toHaveBeenCalledTimes(3);
    expect(time.sleeps).toEqual([50, 100]);
    expect(retry.stats()).toEqual({ retries: 2, giveUps: 0, successes: 1 });
  });

  it('stops after maxAttempts', async () => {
    const { retry } = setup({ maxAttempts: 3 });
    const fn = alwaysFailing(unavailable);
    await expect(retry.execute(fn)).rejects.toThrow('upstream 503');
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it('stops when the next delay would pass maxTotalMs, counting the time the calls themselves take', async () => {
    const time = makeFakeTime(0);
    const { retry, logger } = setup(
      {
        maxAttempts: 100,
        initialDelayMs: 1_000,
        maxDelayMs: 10_000,
        maxTotalMs: 5_000,
        random: fixedRandom(1),
      },
      time,
    );
    const fn = jest.fn(() => {
      time.advance(200); // each call is slow
      return Promise.reject(unavailable());
    });

    await expect(retry.execute(fn)).rejects.toThrow();

    // t=200 fail, sleep 1000 -> t=1400 fail, sleep 2000 -> t=3600 fail; 3600 + 4000 > 5000: give up.
    expect(time.sleeps).toEqual([1_000, 2_000]);
    expect(fn).toHaveBeenCalledTimes(3);
    expect(logger.entries.at(-1)).toMatchObject({
      level: 'error',
      fields: {
        name: 'firestore',
        attempt: 3,
        reason: 'time_exhausted',
        elapsedMs: 3_600,
        errorCode: 'http_503',
      },
    });
  });

  it('waits for Retry-After on a 429 (never less, never past maxDelayMs)', async () => {
    const { retry, time } = setup({ random: fixedRandom(0), maxDelayMs: 5_000 });
    const tooMany = (seconds: string) =>
      errorWith({
        status: 429,
        response: { status: 429, headers: { 'retry-after': seconds } },
      });
    const fn = failing(tooMany('2'), tooMany('120'));

    await expect(retry.execute(fn)).resolves.toBe('ok');

    expect(time.sleeps).toEqual([2_000, 5_000]);
  });

  it("waits for a GraphmillError's retryAfterSeconds, but keeps a longer backoff", async () => {
    const { retry, time } = setup({ random: fixedRandom(1), initialDelayMs: 800 });
    const fn = failing(
      dependencyUnavailable('busy', { retryAfterSeconds: 1 }),
      dependencyUnavailable('busy', { retryAfterSeconds: 1 }),
    );
    await retry.execute(fn);
    // max(1000, 800) then max(1000, min(1000, 1600)).
    expect(time.sleeps).toEqual([1_000, 1_000]);
  });

  it('does not retry permanent failures and does not log them as give-ups', async () => {
    const { retry, time, logger } = setup();
    const fn = alwaysFailing(() => badRequest('missing document_id'));

    await expect(retry.execute(fn)).rejects.toMatchObject({ code: 'bad_request' });

    expect(fn).toHaveBeenCalledTimes(1);
    expect(time.sleeps).toEqual([]);
    expect(logger.entries).toEqual([]);
    expect(retry.stats()).toEqual({ retries: 0, giveUps: 0, successes: 0 });
  });

  it('accepts a custom classifier', async () => {
    const { retry } = setup({
      isRetryable: (e) => (e as { code?: string }).code === 'LEASE_BUSY',
      maxAttempts: 2,
    });
    const fn = failing(errorWith({ code: 'LEASE_BUSY' }));
    await expect(retry.execute(fn)).resolves.toBe('ok');
    const permanent = alwaysFailing(unavailable);
    await expect(retry.execute(permanent)).rejects.toThrow();
    expect(permanent).toHaveBeenCalledTimes(1);
  });

  it('logs each retry as a warning and the give-up as an error, with counters', async () => {
    const { retry, logger } = setup({ maxAttempts: 3 });
    await expect(retry.execute(alwaysFailing(() => errorWith({ code: 14 })))).rejects.toMatchObject({
      code: 14,
    });

    expect(logger.entries).toEqual([
      {
        level: 'warn',
        message: 'firestore: retrying after a failure',
        fields: { name: 'firestore', attempt: 1, delayMs: 50, errorCode: 'grpc_UNAVAILABLE' },
      },
      {
        level: 'warn',
        message: 'firestore: retrying after a failure',
        fields: { name: 'firestore', attempt: 2, delayMs: 100, errorCode: 'grpc_UNAVAILABLE' },
      },
      {
        level: 'error',
        message: 'firestore: giving up',
        fields: {
          name: 'firestore',
          attempt: 3,
          elapsedMs: 150,
          reason: 'attempts_exhausted',
          errorCode: 'grpc_UNAVAILABLE',
        },
      },
    ]);
  });

  it('emits onRetry / onGiveUp events with the error', async () => {
    const { retry } = setup({ maxAttempts: 2 });
    const retries: unknown[] = [];
    const giveUps: unknown[] = [];
    const stop = retry.onRetry((e) => retries.push(e.error));
    retry.onGiveUp((e) => giveUps.push(e.reason));
    const err = unavailable();

    await expect(retry.execute(() => Promise.reject(err))).rejects.toBe(err);
    stop();
    await expect(retry.execute(() => Promise.reject(err))).rejects.toBe(err);

    expect(retries).toEqual([err]);
    expect(giveUps).toEqual(['attempts_exhausted', 'attempts_exhausted']);
  });

  it('passes the signal to fn and stops retrying once it is aborted', async () => {
    const { retry, time } = setup();
    const controller = new AbortController();
    const seen: AbortSignal[] = [];
    const fn = jest.fn((signal: AbortSignal) => {
      seen.push(signal);
      controller.abort(new Error('request finished'));
      return Promise.reject(unavailable());
    });

    await expect(retry.execute(fn, controller.signal)).rejects.toThrow('upstream 503');

    expect(fn).toHaveBeenCalledTimes(1);
    expect(seen[0]).toBe(controller.signal);
    expect(time.sleeps).toEqual([]);
  });

  it('does not start when the signal is already aborted', async () => {
    const { retry } = setup();
    const fn = jest.fn(() => Promise.resolve('never'));
    await expect(retry.execute(fn, AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
    expect(fn).not.toHaveBeenCalled();
  });

  it.each([
    [{ maxAttempts: Number.POSITIVE_INFINITY }],
    [{ maxAttempts: 0 }],
    [{ maxTotalMs: Number.POSITIVE_INFINITY }],
    [{ maxDelayMs: 10, initialDelayMs: 100 }],
  ])('refuses unbounded or inconsistent options %j', (overrides) => {
    expect(() => setup(overrides)).toThrow(RangeError);
  });
});
