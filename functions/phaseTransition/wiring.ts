import type { Env } from '../../shared/config';
import { loadFunctionComposition } from '../../shared/runtime/function';
import type { LoadedEventFunction } from '../../shared/runtime/lazy';
import { makePhaseTransitionHandler } from './handler';

export function loadPhaseTransition(env: Env): Promise<LoadedEventFunction> {
  const { app } = loadFunctionComposition('phaseTransition', env);
  return Promise.resolve({ handle: makePhaseTransitionHandler(app), close: () => app.close() });
}
