/** What every function's wiring does on its first request: config, logger, composition, shutdown hook. */
import { parseConfig, type Config, type Env } from '../config';
import { makeLogger, type Logger } from '../logging';
import { compose, type Composition, type CompositionOverrides } from './composition';

export interface FunctionComposition {
  readonly config: Config;
  readonly logger: Logger;
  readonly app: Composition;
}

export function loadFunctionComposition(
  functionName: string,
  env: Env,
  overrides: CompositionOverrides = {},
): FunctionComposition {
  const config = parseConfig(env);
  const logger = makeLogger({ ...config.log, projectId: config.projectId, base: { function: functionName } });
  const app = compose(config, logger, { functionName, ...overrides });
  // Cloud Run sends SIGTERM before stopping an instance: close the driver and flush alerts.
  process.once('SIGTERM', () => {
    void app.close();
  });
  return { config, logger, app };
}
