import { dependencyUnavailable } from '../../../shared/errors';
import { CachedSecretStore, SecretRegistry } from '../../../shared/secrets';
import type { SecretStore } from '../../../shared/ports/secret-store';
import { makeFakeTime } from '../../../shared/resilience/testing';
import { makeCapturingLogger } from '../../support/capturing-logger';

const TTL = 300_000;
const MAX_STALE = 3_600_000;

/** An inner store whose answers the test scripts: a value, an error, or a pending promise it resolves later. */
function scriptedStore() {
  const answers: Array<() => Promise<string>> = [];
  const store = {
    get: jest.fn((_name: string) => (answers.shift() ?? (() => Promise.resolve('default-value')))()),
    invalidate: jest.fn((_name: string) => undefined),
  } satisfies SecretStore;
  return {
    store,
    willReturn: (value: string) => answers.push(() => Promise.resolve(value)),
    willFail: (err: Error) => answers.push(() => Promise.reject(err)),
    willHang: () => {
      let resolve!: (v: string) => void;
      answers.push(() => new Promise<string>((r) => (resolve = r)));
      return (v: string) => resolve(v);
    },
  };
}

function setup() {
  const time = makeFakeTime(0);
  const logger = makeCapturingLogger();
  const registry = new SecretRegistry();
  const inner = scriptedStore();
  const cache = new CachedSecretStore(inner.store, { clock: time.clock, logger, registry });
  return { time, logger, registry, inner, cache };
}

describe('CachedSecretStore', () => {
  it('coalesces 50 concurrent gets into one fetch', async () => {
    const { inner, cache } = setup();
    const release = inner.willHang();

    const reads = Array.from({ length: 50 }, () => cache.get('neo4j-password'));
    release('s3cret-pw-1');

    await expect(Promise.all(reads)).resolves.toEqual(Array(50).fill('s3cret-pw-1'));
    expect(inner.store.get).toHaveBeenCalledTimes(1);
    expect(inner.store.get).toHaveBeenCalledWith('neo4j-password');
  });

  it('keeps secrets apart', async () => {
    const { inner, cache } = setup();
    inner.willReturn('value-a-123');
    inner.willReturn('value-b-456');
    await expect(cache.get('a')).resolves.toBe('value-a-123');
    await expect(cache.get('b')).resolves.toBe('value-b-456');
    await expect(cache.get('a')).resolves.toBe('value-a-123');
    expect(inner.store.get).toHaveBeenCalledTimes(2);
  });

  it('serves from cache for the TTL (5 min by default), then refetches once', async () => {
    const { time, inner, cache } = setup();
    inner.willReturn('first-value');
    inner.willReturn('second-value');

    await cache.get('k');
    time.advance(TTL - 1);
    await expect(cache.get('k')).resolves.toBe('first-value');
    expect(inner.store.get).toHaveBeenCalledTimes(1);

    time.advance(1);
    const [a, b] = await Promise.all([cache.get('k'), cache.get('k')]);
    expect([a, b]).toEqual(['second-value', 'second-value']);
    expect(inner.store.get).toHaveBeenCalledTimes(2);
    await expect(cache.get('k')).resolves.toBe('second-value');
    expect(inner.store.get).toHaveBeenCalledTimes(2);
  });

  it('honours a custom ttlMs', async () => {
    const time = makeFakeTime(0);
    const inner = scriptedStore();
    const cache = new CachedSecretStore(inner.store, {
      clock: time.clock,
      ttlMs: 1_000,
      registry: new SecretRegistry(),
    });
    await cache.get('k');
    time.advance(1_000);
    await cache.get('k');
    expect(inner.store.get).toHaveBeenCalledTimes(2);
  });

  it('serves the stale value while refreshes fail, logs a warning without the value, then surfaces the failure', async () => {
    const { time, inner, cache, logger } = setup();
    inner.willReturn('old-but-good-value');
    await cache.get('slack-webhook');
    const outage = dependencyUnavailable('Secret Manager is unavailable');

    time.advance(TTL);
    inner.willFail(outage);
    await expect(cache.get('slack-webhook')).resolves.toBe('old-but-good-value');

    time.set(TTL + MAX_STALE); // the last instant the bound allows
    inner.willFail(outage);
    await expect(cache.get('slack-webhook')).resolves.toBe('old-but-good-value');

    time.advance(1);
    inner.willFail(outage);
    await expect(cache.get('slack-webhook')).rejects.toBe(outage);

    expect(logger.entries).toHaveLength(2);
    expect(logger.entries[0]).toMatchObject({
      level: 'warn',
      fields: { name: 'slack-webhook', ageMs: TTL, errorCode: 'dependency_unavailable' },
    });
    expect(JSON.stringify(logger.entries)).not.toContain('old-but-good-value');
  });

  it('stores a successful refresh after serving stale', async () => {
    const { time, inner, cache } = setup();
    inner.willReturn('v1-value');
    await cache.get('k');
    time.advance(TTL);
    inner.willFail(dependencyUnavailable('down'));
    await expect(cache.get('k')).resolves.toBe('v1-value');
    inner.willReturn('v2-value');
    await expect(cache.get('k')).resolves.toBe('v2-value');
    await expect(cache.get('k')).resolves.toBe('v2-value');
    expect(inner.store.get).toHaveBeenCalledTimes(3);
  });

  it('surfaces a failure when nothing is cached, and does not cache the failure', async () => {
    const { inner, cache } = setup();
    const err = dependencyUnavailable('down');
    inner.willFail(err);
    await expect(cache.get('k')).rejects.toBe(err);
    inner.willReturn('recovered-value');
    await expect(cache.get('k')).resolves.toBe('recovered-value');
  });

  it('invalidate drops the cached value so the next get fetches (and tells the inner store)', async () => {
    const { inner, cache } = setup();
    inner.willReturn('before-rotation');
    inner.willReturn('after-rotation');
    await cache.get('neo4j-password');

    cache.invalidate('neo4j-password');

    await expect(cache.get('neo4j-password')).resolves.toBe('after-rotation');
    expect(inner.store.get).toHaveBeenCalledTimes(2);
    expect(inner.store.invalidate).toHaveBeenCalledWith('neo4j-password');
  });

  it('does not serve an invalidated value as stale', async () => {
    const { time, inner, cache } = setup();
    inner.willReturn('revoked-value');
    await cache.get('k');
    cache.invalidate('k');
    time.advance(1);
    const err = dependencyUnavailable('down');
    inner.willFail(err);
    await expect(cache.get('k')).rejects.toBe(err);
  });

  it('does not let a fetch started before invalidate() write its value back', async () => {
    const { inner, cache } = setup();
    const releaseOld = inner.willHang();
    const early = cache.get('k');

    cache.invalidate('k');
    inner.willReturn('fresh-value');
    await expect(cache.get('k')).resolves.toBe('fresh-value');
    releaseOld('stale-value');
    await expect(early).resolves.toBe('stale-value');

    await expect(cache.get('k')).resolves.toBe('fresh-value');
    expect(inner.store.get).toHaveBeenCalledTimes(2);
  });

  it('remembers every value it returns for redaction', async () => {
    const { inner, cache, registry } = setup();
    inner.willReturn('remember-me-please');
    await cache.get('k');
    registry.clear();
    await cache.get('k'); // from cache
    expect(registry.redact('x remember-me-please y')).toBe('x [REDACTED] y');
  });
});
