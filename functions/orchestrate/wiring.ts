/** Builds the orchestrate function's dependencies from the environment (first request only). */
import { parseConfig, type Env } from '../../shared/config';
import { makeLogger } from '../../shared/logging';
import { buildRuntime, type RuntimeOverrides } from '../../shared/runtime/local';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';
import { makeOrchestrateHandler } from './handler';

export function loadOrchestrate(env: Env, overrides: RuntimeOverrides = {}): Promise<LoadedHttpFunction> {
  const config = parseConfig(env);
  const logger = makeLogger({
    ...config.log,
    projectId: config.projectId,
    base: { function: 'orchestrate' },
  });
  const runtime = buildRuntime(config, logger, overrides);
  const close = () => runtime.close();
  process.once('SIGTERM', () => {
    void close();
  });
  return Promise.resolve({
    handle: makeOrchestrateHandler({
      pipeline: runtime.pipeline,
      logger,
      maxRequestBytes: config.maxRequestBytes,
      projectId: config.projectId,
    }),
    close,
  });
}
