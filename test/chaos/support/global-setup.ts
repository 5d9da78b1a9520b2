/**
 * Global setup of the chaos suite: the integration project's Neo4j provisioning (NEO4J_URI, else
 * .graphmill/neo4j.env, else a server started for the run), then a fresh results directory for the
 * figures each suite writes.
 */
import type { ProjectConfig } from 'jest';
import integrationSetup from '../../support/global-setup';
import { startResults } from './results';

export default async function globalSetup(
  globalConfig: unknown,
  projectConfig: ProjectConfig,
): Promise<void> {
  await integrationSetup(globalConfig, projectConfig);
  startResults();
}
