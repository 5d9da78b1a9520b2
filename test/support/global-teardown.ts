/** Jest global teardown of the integration project: stops Neo4j only if global-setup.ts started it. */
import { stopNeo4j } from '../../scripts/neo4j/provision';
import { STARTED_KEY } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const store = globalThis as Record<string, unknown>;
  const stateDir = store[STARTED_KEY];
  if (typeof stateDir !== 'string') return;
  delete store[STARTED_KEY];
  await stopNeo4j(stateDir);
}
