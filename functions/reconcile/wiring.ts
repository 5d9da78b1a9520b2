import type { Env } from '../../shared/config';
import { makeScheduledHandler } from '../../shared/http/scheduled';
import { loadFunctionComposition } from '../../shared/runtime/function';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';

/** The window each run checks: the last 26 hours, so an hourly schedule overlaps generously. */
const WINDOW_MS = 26 * 3_600_000;

export function loadReconcile(env: Env): Promise<LoadedHttpFunction> {
  const { logger, app } = loadFunctionComposition('reconcile', env);
  return Promise.resolve({
    handle: makeScheduledHandler('reconcile', logger, (log) =>
      app.reconcile.recent(WINDOW_MS, { logger: log }),
    ),
    close: () => app.close(),
  });
}
