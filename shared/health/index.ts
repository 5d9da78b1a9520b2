/**
 * Dependency health: each check is a cheap call with its own timeout, results are cached (30 s by
 * default) so a health probe storm never becomes a load on the dependencies, and the report never hangs.
 */
import type { Clock, Sleep } from '../ports/clock';

export interface HealthCheck {
  readonly name: string;
  /** A cheap call that resolves when the dependency answers. */
  check(signal: AbortSignal): Promise<void>;
}

export interface DependencyHealth {
  readonly status: 'up' | 'down';
  readonly latencyMs: number;
  readonly error?: string;
}

export interface HealthReport {
  readonly status: 'healthy' | 'degraded';
  /** ISO 8601, when the checks ran. */
  readonly checkedAt: string;
  readonly cached: boolean;
  readonly dependencies: Readonly<Record<string, DependencyHealth>>;
  readonly breakers: Readonly<Record<string, string>>;
  readonly version: { readonly gitSha: string; readonly buildTime: string };
}

export interface HealthServiceDeps {
  readonly checks: readonly HealthCheck[];
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly ttlMs?: number;
  readonly timeoutMs?: number;
  /** Current breaker states by name (read on every report: they change between checks). */
  readonly breakers?: () => Readonly<Record<string, string>>;
  readonly version: { readonly gitSha: string; readonly buildTime: string };
}

export interface HealthService {
  report(): Promise<HealthReport>;
}

export function makeHealthService(deps: HealthServiceDeps): HealthService {
  const ttlMs = deps.ttlMs ?? 30_000;
  const timeoutMs = deps.timeoutMs ?? 3_000;
  let cache: { at: number; dependencies: Record<string, DependencyHealth> } | undefined;
  let inFlight: Promise<{ at: number; dependencies: Record<string, DependencyHealth> }> | undefined;

  const runOne = async (c: HealthCheck): Promise<DependencyHealth> => {
    const started = deps.clock();
    const controller = new AbortController();
    const timedOut = Symbol('timeout');
    try {
      const outcome = await Promise.race([
        c.check(controller.signal).then(() => undefined),
        // The timer is aborted once the check settles; its rejection then means nothing.
        deps.sleep(timeoutMs, controller.signal).then(
          () => timedOut,
          () => undefined,
        ),
      ]);
      if (outcome === timedOut)
        return {
          status: 'down',
          latencyMs: deps.clock() - started,
          error: `no answer within ${timeoutMs} ms`,
        };
      return { status: 'up', latencyMs: deps.clock() - started };
    } catch (err) {
      return {
        status: 'down',
        latencyMs: deps.clock() - started,
        error: err instanceof Error ? err.message : String(err),
      };
    } finally {
      controller.abort();
    }
  };

  const refresh = () => {
    inFlight ??= (async () => {
      const at = deps.clock();
      const results = await Promise.all(deps.checks.map(async (c) => [c.name, await runOne(c)] as const));
      cache = { at, dependencies: Object.fromEntries(results) };
      return cache;
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  return {
    async report() {
      const fresh = cache !== undefined && deps.clock() - cache.at < ttlMs;
      const snapshot = fresh && cache ? cache : await refresh();
      const healthy = Object.values(snapshot.dependencies).every((d) => d.status === 'up');
      const breakers = deps.breakers?.() ?? {};
      return {
        status: healthy && Object.values(breakers).every((s) => s === 'closed') ? 'healthy' : 'degraded',
        checkedAt: new Date(snapshot.at).toISOString(),
        cached: fresh,
        dependencies: snapshot.dependencies,
        breakers,
        version: deps.version,
      };
    },
  };
}
