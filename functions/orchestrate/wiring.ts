/** Builds the orchestrate function's dependencies from the environment (first request only). */
import type { Env } from '../../shared/config';
import type { CompositionOverrides } from '../../shared/runtime';
import { loadFunctionComposition } from '../../shared/runtime/function';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';
import { systemClock } from '../../shared/resilience/time';
import { makeOrchestrateHandler } from './handler';

export function loadOrchestrate(env: Env, overrides: CompositionOverrides = {}): Promise<LoadedHttpFunction> {
  const { config, logger, app } = loadFunctionComposition('orchestrate', env, overrides);
  return Promise.resolve({
    handle: makeOrchestrateHandler({
      ingest: app.ingest,
      batches: app.batches,
      clock: overrides.clock ?? systemClock,
      logger,
      maxRequestBytes: config.maxRequestBytes,
      projectId: config.projectId,
    }),
    close: () => app.close(),
  });
}
