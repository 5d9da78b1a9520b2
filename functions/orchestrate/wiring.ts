/** Builds the orchestrate function's dependencies from the environment (first request only). */
import type { Env } from '../../shared/config';
import type { RuntimeOverrides } from '../../shared/runtime';
import { loadFunctionRuntime } from '../../shared/runtime/function';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';
import { makeOrchestrateHandler } from './handler';

export function loadOrchestrate(env: Env, overrides: RuntimeOverrides = {}): Promise<LoadedHttpFunction> {
  const runtime = loadFunctionRuntime('orchestrate', env, overrides);
  return Promise.resolve({
    handle: makeOrchestrateHandler({
      pipeline: runtime.pipeline,
      orchestration: runtime.orchestration('orchestrate'),
      logger: runtime.logger,
      maxRequestBytes: runtime.config.maxRequestBytes,
      projectId: runtime.config.projectId,
    }),
    close: () => runtime.close(),
  });
}
