/** Builds the health function's dependencies (first request only). */
import type { Env } from '../../shared/config';
import { loadFunctionComposition } from '../../shared/runtime/function';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';
import { makeHealthHandler } from './handler';

export function loadHealth(env: Env): Promise<LoadedHttpFunction> {
  const { app } = loadFunctionComposition('health', env);
  return Promise.resolve({ handle: makeHealthHandler(app), close: () => app.close() });
}
