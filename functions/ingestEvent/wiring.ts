import type { Env } from '../../shared/config';
import { loadFunctionComposition } from '../../shared/runtime/function';
import type { LoadedEventFunction } from '../../shared/runtime/lazy';
import { makeIngestEventHandler } from './handler';

export function loadIngestEvent(env: Env): Promise<LoadedEventFunction> {
  const { app } = loadFunctionComposition('ingestEvent', env);
  return Promise.resolve({ handle: makeIngestEventHandler(app), close: () => app.close() });
}
