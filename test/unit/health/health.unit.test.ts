import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import { makeHealthService, type HealthCheck } from '../../../shared/health';
import { makeHealthHandler } from '../../../functions/health/handler';

const version = { gitSha: 'abc1234', buildTime: '2026-11-23T00:00:00Z' };

function counting(name: string, behaviour: 'up' | 'down' | 'hang'): HealthCheck & { calls: number } {
  const c = {
    name,
    calls: 0,
    check: (signal: AbortSignal) => {
      c.calls++;
      if (behaviour === 'up') return Promise.resolve();
      if (behaviour === 'down') return Promise.reject(new Error(`${name} refused the connection`));
      return new Promise<void>((_, reject) =>
        signal.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    },
  };
  return c;
}

describe('health service', () => {
  let now = 1_000_000;
  const clock = () => now;
  /** The timeout timer fires as soon as it is set: a hanging check times out without real waiting. */
  const instantSleep = () => Promise.resolve();
  /** A timer that never fires on its own (so checks that answer win the race). */
  const neverSleep = (_ms: number, signal?: AbortSignal) =>
    new Promise<void>((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted'))));

  it('reports healthy with per-dependency latency and the version', async () => {
    const neo = counting('neo4j', 'up');
    const svc = makeHealthService({
      checks: [neo, counting('stateStore', 'up')],
      clock,
      sleep: neverSleep,
      version,
    });
    const r = await svc.report();
    expect(r).toMatchObject({
      status: 'healthy',
      cached: false,
      version,
      dependencies: { neo4j: { status: 'up' }, stateStore: { status: 'up' } },
    });
    expect(typeof r.dependencies['neo4j']?.latencyMs).toBe('number');
  });

  it('a hanging dependency is reported down within the timeout, and the report is degraded', async () => {
    const svc = makeHealthService({
      checks: [counting('neo4j', 'hang'), counting('stateStore', 'up')],
      clock,
      sleep: instantSleep,
      timeoutMs: 2000,
      version,
    });
    const r = await svc.report();
    expect(r.status).toBe('degraded');
    expect(r.dependencies['neo4j']).toMatchObject({ status: 'down', error: 'no answer within 2000 ms' });
  });

  it('caches results for 30 s: no dependency is called again within the window', async () => {
    const neo = counting('neo4j', 'up');
    const svc = makeHealthService({ checks: [neo], clock, sleep: neverSleep, version });
    await svc.report();
    now += 29_999;
    const again = await svc.report();
    expect(again.cached).toBe(true);
    expect(neo.calls).toBe(1);
    now += 1;
    expect((await svc.report()).cached).toBe(false);
    expect(neo.calls).toBe(2);
  });

  it('concurrent reports share one round of checks', async () => {
    const neo = counting('neo4j', 'up');
    const svc = makeHealthService({ checks: [neo], clock, sleep: neverSleep, version, ttlMs: 0 });
    await Promise.all([svc.report(), svc.report(), svc.report()]);
    expect(neo.calls).toBe(1);
  });

  it('an open breaker makes the report degraded', async () => {
    const svc = makeHealthService({
      checks: [counting('neo4j', 'up')],
      clock,
      sleep: neverSleep,
      version,
      breakers: () => ({ firestore: 'open' }),
    });
    expect(await svc.report()).toMatchObject({ status: 'degraded', breakers: { firestore: 'open' } });
  });
});

describe('health handler', () => {
  const up = makeHealthService({
    checks: [counting('neo4j', 'up')],
    clock: () => 0,
    sleep: () => new Promise(() => undefined),
    version,
  });
  const down = makeHealthService({
    checks: [counting('neo4j', 'down')],
    clock: () => 0,
    sleep: () => new Promise(() => undefined),
    version,
  });
  functions.http('health-up', makeHealthHandler({ health: up }));
  functions.http('health-down', makeHealthHandler({ health: down }));

  it('200 when healthy, 503 when degraded, never cached', async () => {
    const ok = await request(getTestServer('health-up')).get('/');
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    const bad = await request(getTestServer('health-down')).get('/');
    expect(bad.status).toBe(503);
    expect(bad.body.dependencies.neo4j).toMatchObject({
      status: 'down',
      error: 'neo4j refused the connection',
    });
  });

  it('405 problem+json for POST', async () => {
    const res = await request(getTestServer('health-up')).post('/').send({});
    expect(res.status).toBe(405);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
  });
});
