/** Builds the health function's dependencies (first request only). */
import type { Env } from '../../shared/config';
import { makeHealthService } from '../../shared/health';
import { realSleep, systemClock } from '../../shared/resilience/time';
import { loadFunctionRuntime } from '../../shared/runtime/function';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';
import { makeHealthHandler } from './handler';

export function loadHealth(env: Env): Promise<LoadedHttpFunction> {
  const runtime = loadFunctionRuntime('health', env);
  const health = makeHealthService({
    checks: runtime.healthChecks,
    clock: systemClock,
    sleep: realSleep,
    breakers: () => runtime.breakers(),
    version: runtime.config.version,
  });
  return Promise.resolve({ handle: makeHealthHandler({ health }), close: () => runtime.close() });
}
