import type { Env } from '../../shared/config';
import { makeScheduledHandler } from '../../shared/http/scheduled';
import { reconcile } from '../../shared/pipeline/orchestration';
import { loadFunctionRuntime } from '../../shared/runtime/function';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';

/** The window each run checks: the last 26 hours, so an hourly schedule overlaps generously. */
const WINDOW_MS = 26 * 3_600_000;

export function loadReconcile(env: Env): Promise<LoadedHttpFunction> {
  const runtime = loadFunctionRuntime('reconcile', env);
  return Promise.resolve({
    handle: makeScheduledHandler('reconcile', runtime.logger, (log) => {
      const now = runtime.pipeline.clock();
      return reconcile(
        {
          firestore: runtime.ledgers.firestore,
          bigquery: runtime.ledgers.bigquery,
          firestorePolicy: runtime.policies.firestore,
          bigqueryPolicy: runtime.policies.bigquery,
          logger: log,
        },
        { since: now - WINDOW_MS, until: now + 1 },
      );
    }),
    close: () => runtime.close(),
  });
}
