/**
 * Jest global setup of the integration project: provisions Neo4j (NEO4J_URI env, else
 * .graphmill/neo4j.env, else a local server started here) and exports NEO4J_URI / NEO4J_USERNAME /
 * NEO4J_PASSWORD, which the test workers inherit. Remembers whether it started the server so that
 * global-teardown.ts stops only that.
 */
import * as path from 'node:path';
import type { ProjectConfig } from 'jest';
import { resolveNeo4j } from '../../scripts/neo4j/provision';

/** Read by global-teardown.ts, which jest runs in the same process. */
export const STARTED_KEY = '__graphmillNeo4jStartedBySetup';

export default async function globalSetup(
  _globalConfig: unknown,
  projectConfig: ProjectConfig,
): Promise<void> {
  const stateDir = path.join(projectConfig.rootDir, '.graphmill');
  const neo = await resolveNeo4j({ stateDir });
  process.env['NEO4J_URI'] = neo.uri;
  process.env['NEO4J_USERNAME'] = neo.username;
  process.env['NEO4J_PASSWORD'] = neo.password;
  // Where the server came from: tests of the provisioner's own settings skip a server it did not start.
  process.env['GRAPHMILL_TEST_NEO4J_SOURCE'] = neo.source;
  if (neo.startedHere) {
    (globalThis as Record<string, unknown>)[STARTED_KEY] = stateDir;
  }
  const how = neo.startedHere ? 'started for this run' : 'already running';
  process.stderr.write(`\n[neo4j] tests use ${neo.uri} as ${neo.username} (${neo.source}, ${how})\n`);
}
