import type { Env } from '../../shared/config';
import { handlePhaseCompletion } from '../../shared/pipeline/orchestration';
import { loadFunctionRuntime } from '../../shared/runtime/function';
import type { LoadedEventFunction } from '../../shared/runtime/lazy';

export function loadPhaseTransition(env: Env): Promise<LoadedEventFunction> {
  const runtime = loadFunctionRuntime('phaseTransition', env);
  const deps = runtime.orchestration('phaseTransition');
  return Promise.resolve({
    handle: async (event) => void (await handlePhaseCompletion(deps, event)),
    close: () => runtime.close(),
  });
}
