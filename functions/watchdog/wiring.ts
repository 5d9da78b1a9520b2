import type { Env } from '../../shared/config';
import { makeScheduledHandler } from '../../shared/http/scheduled';
import { runWatchdog } from '../../shared/pipeline/orchestration';
import { loadFunctionRuntime } from '../../shared/runtime/function';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';

export function loadWatchdog(env: Env): Promise<LoadedHttpFunction> {
  const runtime = loadFunctionRuntime('watchdog', env);
  const deps = runtime.orchestration('watchdog');
  return Promise.resolve({
    handle: makeScheduledHandler('watchdog', runtime.logger, async (log) => ({
      alerted: await runWatchdog({ ...deps, logger: log }),
    })),
    close: () => runtime.close(),
  });
}
