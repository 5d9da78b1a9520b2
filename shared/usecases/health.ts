/**
 * The health report: cached dependency checks with timeouts and the breakers' states. The checks
 * themselves are built by the composition root, next to the adapters they call.
 */
import { makeHealthService, type HealthService, type HealthServiceDeps } from '../health';

export type HealthDeps = HealthServiceDeps;
export type Health = HealthService;

export const makeHealth = (deps: HealthDeps): Health => makeHealthService(deps);
