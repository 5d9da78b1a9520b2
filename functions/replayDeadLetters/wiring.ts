import type { Env } from '../../shared/config';
import { replayDue } from '../../shared/dlq/replay';
import { makeScheduledHandler } from '../../shared/http/scheduled';
import { replayOperation } from '../../shared/pipeline/orchestration';
import { loadFunctionRuntime } from '../../shared/runtime/function';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';

export function loadReplayDeadLetters(env: Env): Promise<LoadedHttpFunction> {
  const runtime = loadFunctionRuntime('replayDeadLetters', env);
  const deps = runtime.orchestration('replayDeadLetters');
  return Promise.resolve({
    handle: makeScheduledHandler('replayDeadLetters', runtime.logger, (log) =>
      replayDue({
        store: runtime.deadLetters,
        alerter: runtime.alerter,
        clock: runtime.pipeline.clock,
        logger: log,
        functionName: 'replayDeadLetters',
        ...(deps.settings.dlqSchedule ? { schedule: deps.settings.dlqSchedule } : {}),
        run: (op) => replayOperation({ ...deps, logger: log }, op),
      }),
    ),
    close: () => runtime.close(),
  });
}
