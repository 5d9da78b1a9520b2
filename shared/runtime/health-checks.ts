/** Cheap calls to each dependency, for the health use case. */
import type { Neo4jAccess } from '../adapters/neo4j/access';
import type { Config } from '../config';
import type { HealthCheck } from '../health';
import type { StatusStore } from '../ports/status-store';
import type { Secrets } from './adapters';
import type { Ledgers } from './stores';

export function makeHealthChecks(
  config: Config,
  deps: {
    readonly neo4j: Neo4jAccess;
    readonly status: StatusStore;
    readonly ledgers: Ledgers;
    readonly secrets: Secrets;
  },
): HealthCheck[] {
  const { neo4j, status, ledgers, secrets } = deps;
  return [
    {
      name: 'neo4j',
      check: () =>
        neo4j.withDriver(async (driver) => {
          await driver.executeQuery(
            'RETURN 1',
            {},
            { routing: 'READ', ...(neo4j.database ? { database: neo4j.database } : {}) },
          );
        }),
    },
    {
      name: config.adapters.statusStore === 'firestore' ? 'firestore' : 'stateStore',
      check: async () => void (await status.get('__health__')),
    },
    {
      name: config.adapters.completionLedgers === 'gcp' ? 'bigquery' : 'analyticsLedger',
      check: async () => void (await ledgers.bigquery.aggregate('__health__', '__health__')),
    },
    {
      name: config.secrets.backend === 'secret-manager' ? 'secretManager' : 'secrets',
      check: async () => void (await secrets.store.get(secrets.neo4jPassword)),
    },
  ];
}
