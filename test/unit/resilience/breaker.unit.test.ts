import { badRequest, isGraphmillError } from '../../../shared/errors';
import {
  RESILIENCE_PRESETS,
  isCircuitOpenError,
  makeBreaker,
  makeResilientPolicy,
  makeRetry,
  wrap,
  type BreakerOptions,
} from '../../../shared/resilience';
import { fixedRandom, makeFakeTime } from '../../../shared/resilience/testing';
import { makeCapturingLogger } from '../../support/capturing-logger';

const unavailable = (): Error => Object.assign(new Error('firestore 14 UNAVAILABLE'), { code: 14 });
const ok = (): Promise<string> => Promise.resolve('ok');
const fail = (err: Error) => (): Promise<never> => Promise.reject(err);
const httpError = (status: number): Error => Object.assign(new Error(`HTTP ${status}`), { status });

function setup(overrides: Partial<BreakerOptions> = {}) {
  const time = makeFakeTime(0);
  const logger = makeCapturingLogger();
  const breaker = makeBreaker({ name: 'firestore', clock: time.clock, logger, ...overrides });
  const tripOpen = async (n = 5): Promise<void> => {
    for (let i = 0; i < n; i++) await expect(breaker.execute(fail(unavailable()))).rejects.toThrow();
  };
  return { breaker, time, logger, tripOpen };
}

describe('makeBreaker', () => {
  it('opens after 5 consecutive retryable failures and then fails fast without calling fn', async () => {
    const { breaker, tripOpen } = setup();
    await tripOpen(4);
    expect(breaker.state()).toBe('closed');
    await tripOpen(1);
    expect(breaker.state()).toBe('open');

    const fn = jest.fn(ok);
    const err: unknown = await breaker.execute(fn).catch((e: unknown) => e);

    expect(fn).not.toHaveBeenCalled();
    expect(isGraphmillError(err)).toBe(true);
    expect(isCircuitOpenError(err)).toBe(true);
    expect(err).toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
      retryable: true,
      retryAfterSeconds: 30,
      message: 'firestore circuit is open',
    });
  });

  it('goes half-open after 30 s of the injected clock, and closes after a successful probe', async () => {
    const { breaker, time, tripOpen } = setup();
    await tripOpen();

    time.advance(29_999);
    expect(breaker.state()).toBe('open');
    await expect(breaker.execute(ok)).rejects.toMatchObject({ retryAfterSeconds: 1 });

    time.advance(1);
    expect(breaker.state()).toBe('half-open');
    const probe = jest.fn(ok);
    await expect(breaker.execute(probe)).resolves.toBe('ok');
    expect(probe).toHaveBeenCalledTimes(1);
    expect(breaker.state()).toBe('closed');

    // Closed again with a fresh streak: 4 failures do not reopen it.
    await tripOpen(4);
    expect(breaker.state()).toBe('closed');
  });

  it('reopens for another full period when the probe fails', async () => {
    const { breaker, time, tripOpen } = setup();
    await tripOpen();
    time.advance(30_000);

    await expect(breaker.execute(fail(unavailable()))).rejects.toThrow('UNAVAILABLE');

    expect(breaker.state()).toBe('open');
    await expect(breaker.execute(ok)).rejects.toMatchObject({ retryAfterSeconds: 30 });
    time.advance(30_000);
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(breaker.state()).toBe('closed');
  });

  it('lets only one probe through; concurrent calls fail fast meanwhile', async () => {
    const { breaker, time, tripOpen } = setup();
    await tripOpen();
    time.advance(30_000);

    let release!: (v: string) => void;
    const probe = breaker.execute(() => new Promise<string>((resolve) => (release = resolve)));
    const other = jest.fn(ok);
    await expect(breaker.execute(other)).rejects.toMatchObject({ message: 'firestore circuit is open' });
    expect(other).not.toHaveBeenCalled();

    release('probed');
    await expect(probe).resolves.toBe('probed');
    await expect(breaker.execute(other)).resolves.toBe('ok');
  });

  it('lets a new probe through when the previous one never settles', async () => {
    const { breaker, time, tripOpen } = setup();
    await tripOpen();
    time.advance(30_000);
    void breaker.execute(() => new Promise<string>(() => undefined));
    time.advance(30_000);
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(breaker.state()).toBe('closed');
  });

  it('does not count 4xx (permanent) failures toward opening', async () => {
    const { breaker } = setup();
    const fn = jest.fn(fail(httpError(400)));
    for (let i = 0; i < 10; i++) await expect(breaker.execute(fn)).rejects.toMatchObject({ status: 400 });
    await expect(breaker.execute(fail(badRequest('nope')))).rejects.toThrow('nope');
    expect(fn).toHaveBeenCalledTimes(10);
    expect(breaker.state()).toBe('closed');
  });

  it('counts consecutive failures only: a success resets the streak', async () => {
    const { breaker, tripOpen } = setup();
    await tripOpen(4);
    await breaker.execute(ok);
    await tripOpen(4);
    expect(breaker.state()).toBe('closed');
  });

  it('closes when the probe fails permanently: the dependency answered', async () => {
    const { breaker, time, tripOpen } = setup();
    await tripOpen();
    time.advance(30_000);
    await expect(breaker.execute(fail(httpError(404)))).rejects.toMatchObject({ status: 404 });
    expect(breaker.state()).toBe('closed');
  });

  it('honours failureThreshold and halfOpenAfterMs options', async () => {
    const { breaker, time, tripOpen } = setup({ failureThreshold: 2, halfOpenAfterMs: 5_000 });
    await tripOpen(2);
    expect(breaker.state()).toBe('open');
    await expect(breaker.execute(ok)).rejects.toMatchObject({ retryAfterSeconds: 5 });
    time.advance(5_000);
    expect(breaker.state()).toBe('half-open');
  });

  it('logs break (error), half-open and reset (notice), and emits events', async () => {
    const { breaker, time, logger, tripOpen } = setup();
    const events: string[] = [];
    breaker.onBreak((e) => events.push(`break:${e.failures}`));
    breaker.onHalfOpen(() => events.push('half-open'));
    breaker.onReset(() => events.push('reset'));

    await tripOpen();
    time.advance(30_000);
    await breaker.execute(ok);

    expect(events).toEqual(['break:5', 'half-open', 'reset']);
    expect(logger.entries).toEqual([
      {
        level: 'error',
        message: 'firestore: circuit opened',
        fields: { name: 'firestore', failures: 5, halfOpenAfterMs: 30_000, errorCode: 'grpc_UNAVAILABLE' },
      },
      { level: 'notice', message: 'firestore: circuit half-open, probing', fields: { name: 'firestore' } },
      { level: 'notice', message: 'firestore: circuit closed', fields: { name: 'firestore' } },
    ]);
  });

  it('refuses invalid thresholds', () => {
    expect(() => setup({ failureThreshold: 0 })).toThrow(RangeError);
    expect(() => setup({ halfOpenAfterMs: Number.NaN })).toThrow(RangeError);
  });
});

describe('wrap(retry, breaker)', () => {
  it('counts every attempt in the breaker, and stops retrying as soon as the circuit opens', async () => {
    const time = makeFakeTime(0);
    const logger = makeCapturingLogger();
    const retry = makeRetry({
      name: 'firestore',
      maxAttempts: 10,
      initialDelayMs: 100,
      maxDelayMs: 1_000,
      maxTotalMs: 60_000,
      clock: time.clock,
      sleep: time.sleep,
      random: fixedRandom(1),
      logger,
    });
    const breaker = makeBreaker({ name: 'firestore', failureThreshold: 3, clock: time.clock, logger });
    const fn = jest.fn(fail(unavailable()));

    const err: unknown = await wrap(retry, breaker)
      .execute(fn)
      .catch((e: unknown) => e);

    expect(fn).toHaveBeenCalledTimes(3);
    expect(isCircuitOpenError(err)).toBe(true);
    expect(time.sleeps).toEqual([100, 200, 400]);
    expect(breaker.state()).toBe('open');
    // The open circuit ends the loop: it is not a give-up (the breaker already logged the outage).
    expect(retry.stats()).toEqual({ retries: 3, giveUps: 0, successes: 0 });
    expect(logger.entries.map((e) => e.level)).toEqual(['warn', 'warn', 'error', 'warn']);
  });

  it('passes the caller signal through every layer', async () => {
    const time = makeFakeTime(0);
    const policy = makeResilientPolicy('firestore', RESILIENCE_PRESETS.firestore, {
      clock: time.clock,
      sleep: time.sleep,
      random: fixedRandom(0.5),
    });
    const controller = new AbortController();
    const fn = jest.fn((signal: AbortSignal) => Promise.resolve(signal));
    await expect(policy.execute(fn, controller.signal)).resolves.toBe(controller.signal);
    expect(policy.breaker?.state()).toBe('closed');
  });
});

describe('RESILIENCE_PRESETS', () => {
  it.each(Object.entries(RESILIENCE_PRESETS))(
    '%s is bounded and fits in a Cloud Run request',
    (_name, preset) => {
      const { retry } = preset;
      expect(Number.isInteger(retry.maxAttempts)).toBe(true);
      expect(retry.maxAttempts).toBeGreaterThanOrEqual(2);
      expect(retry.maxAttempts).toBeLessThanOrEqual(10);
      expect(retry.initialDelayMs).toBeLessThanOrEqual(retry.maxDelayMs);
      expect(retry.maxDelayMs).toBeLessThanOrEqual(retry.maxTotalMs);
      expect(retry.maxTotalMs).toBeLessThan(60_000);
    },
  );

  it('builds a working policy for every preset (breaker where the preset has one)', async () => {
    const time = makeFakeTime(0);
    const deps = { clock: time.clock, sleep: time.sleep, random: fixedRandom(0.5) };
    for (const [name, preset] of Object.entries(RESILIENCE_PRESETS)) {
      const policy = makeResilientPolicy(name, preset, deps);
      await expect(policy.execute(ok)).resolves.toBe('ok');
      expect(policy.breaker === undefined).toBe(!('breaker' in preset));
    }
    expect(RESILIENCE_PRESETS.firestore.breaker.halfOpenAfterMs).toBe(30_000);
  });
});
