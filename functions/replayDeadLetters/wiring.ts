import type { Env } from '../../shared/config';
import { makeScheduledHandler } from '../../shared/http/scheduled';
import { loadFunctionComposition } from '../../shared/runtime/function';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';

export function loadReplayDeadLetters(env: Env): Promise<LoadedHttpFunction> {
  const { logger, app } = loadFunctionComposition('replayDeadLetters', env);
  return Promise.resolve({
    handle: makeScheduledHandler('replayDeadLetters', logger, (log) => app.replay.replayDue({ logger: log })),
    close: () => app.close(),
  });
}
