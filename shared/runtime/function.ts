/** What every function's wiring does on its first request: config, logger, runtime, shutdown hook. */
import { parseConfig, type Env } from '../config';
import { makeLogger } from '../logging';
import { buildRuntime, type Runtime, type RuntimeOverrides } from './index';

export function loadFunctionRuntime(
  functionName: string,
  env: Env,
  overrides: RuntimeOverrides = {},
): Runtime {
  const config = parseConfig(env);
  const logger = makeLogger({ ...config.log, projectId: config.projectId, base: { function: functionName } });
  const runtime = buildRuntime(config, logger, { functionName, ...overrides });
  // Cloud Run sends SIGTERM before stopping an instance: close the driver and flush alerts.
  process.once('SIGTERM', () => {
    void runtime.close();
  });
  return runtime;
}
