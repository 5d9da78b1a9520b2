import type { Env } from '../../shared/config';
import { handleIngestEvent } from '../../shared/pipeline/orchestration';
import { loadFunctionRuntime } from '../../shared/runtime/function';
import type { LoadedEventFunction } from '../../shared/runtime/lazy';

export function loadIngestEvent(env: Env): Promise<LoadedEventFunction> {
  const runtime = loadFunctionRuntime('ingestEvent', env);
  const deps = runtime.orchestration('ingestEvent');
  return Promise.resolve({ handle: (event) => handleIngestEvent(deps, event), close: () => runtime.close() });
}
