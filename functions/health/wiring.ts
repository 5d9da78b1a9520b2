/** Builds the health function's dependencies (first request only). */
import { parseConfig, type Env } from '../../shared/config';
import { makeHealthService } from '../../shared/health';
import { realSleep, systemClock } from '../../shared/resilience/time';
import { makeLogger } from '../../shared/logging';
import { buildRuntime } from '../../shared/runtime/local';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';
import { makeHealthHandler } from './handler';

export function loadHealth(env: Env): Promise<LoadedHttpFunction> {
  const config = parseConfig(env);
  const logger = makeLogger({ ...config.log, projectId: config.projectId, base: { function: 'health' } });
  const runtime = buildRuntime(config, logger);
  process.once('SIGTERM', () => {
    void runtime.close();
  });
  const health = makeHealthService({
    checks: runtime.healthChecks,
    clock: systemClock,
    sleep: realSleep,
    version: {
      gitSha: env['GRAPHMILL_VERSION'] ?? 'unknown',
      buildTime: env['GRAPHMILL_BUILD_TIME'] ?? 'unknown',
    },
  });
  return Promise.resolve({ handle: makeHealthHandler({ health }), close: () => runtime.close() });
}
