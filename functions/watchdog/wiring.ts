import type { Env } from '../../shared/config';
import { makeScheduledHandler } from '../../shared/http/scheduled';
import { loadFunctionComposition } from '../../shared/runtime/function';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';

export function loadWatchdog(env: Env): Promise<LoadedHttpFunction> {
  const { logger, app } = loadFunctionComposition('watchdog', env);
  return Promise.resolve({
    handle: makeScheduledHandler('watchdog', logger, async (log) => ({
      alerted: await app.watchdog.run({ logger: log }),
    })),
    close: () => app.close(),
  });
}
