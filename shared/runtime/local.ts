/**
 * The composition root for local mode: SQLite state under the state directory, inline and file://
 * sources, and the real Neo4j. Entrypoints and the CLI call this; nothing else wires adapters.
 */
import { openStateDatabase } from '../adapters/sqlite/database';
import { SqliteStatusStore } from '../adapters/sqlite/status-store';
import { configInvalid } from '../errors';
import type { Config } from '../config';
import { inlineSource, makeFileSource, makeSourceRouter } from '../documents';
import type { HealthCheck } from '../health';
import type { Logger } from '../logging';
import { makeNeo4jAccess, type Neo4jAccess } from '../neo4j/access';
import { makeNeo4jGraphWriter } from '../neo4j/graph-writer';
import type { PipelineDeps } from '../pipeline';
import { RESILIENCE_PRESETS, makeResilientPolicy, realSleep, systemClock, systemRandom } from '../resilience';
import { CachedSecretStore, EnvSecretStore, type SecretStore } from '../secrets';

export interface Runtime {
  readonly config: Config;
  readonly pipeline: PipelineDeps;
  readonly neo4j: Neo4jAccess;
  /** Cheap calls to each dependency, for the health function. */
  readonly healthChecks: readonly HealthCheck[];
  close(): Promise<void>;
}

export interface RuntimeOverrides {
  /** Where the Neo4j password is read (default: NEO4J_PASSWORD from the environment); cached either way. */
  readonly secrets?: SecretStore;
}

export function buildRuntime(config: Config, logger: Logger, overrides: RuntimeOverrides = {}): Runtime {
  if (config.mode !== 'local') {
    throw configInvalid(
      'GRAPHMILL_MODE=gcp needs the Firestore/Cloud Storage adapters, which this build does not include yet; run with GRAPHMILL_MODE=local',
    );
  }
  const status = new SqliteStatusStore(openStateDatabase(config.stateDir));
  const secrets = new CachedSecretStore(
    overrides.secrets ?? new EnvSecretStore({ NEO4J_PASSWORD: config.neo4j.password }),
    {
      clock: systemClock,
      logger,
    },
  );
  const neo4j = makeNeo4jAccess({
    settings: config.neo4j,
    password: {
      get: () => secrets.get('neo4j-password'),
      invalidate: () => secrets.invalidate('neo4j-password'),
    },
    connectPolicy: makeResilientPolicy('neo4j-connect', RESILIENCE_PRESETS.neo4jConnect, {
      clock: systemClock,
      sleep: realSleep,
      random: systemRandom,
      logger,
    }),
    logger,
  });
  const graph = makeNeo4jGraphWriter(neo4j, { batchSize: config.writeBatchSize });
  const pipeline: PipelineDeps = {
    status,
    source: makeSourceRouter([inlineSource, makeFileSource(config.fileRoot)]),
    graph,
    clock: systemClock,
    logger,
    settings: { ...config.chunking, leaseMs: config.leaseMs, maxDocumentBytes: config.maxDocumentBytes },
  };
  const healthChecks: HealthCheck[] = [
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
    { name: 'stateStore', check: async () => void (await status.get('__health__')) },
  ];
  let closed: Promise<void> | undefined;
  return {
    config,
    pipeline,
    neo4j,
    healthChecks,
    close() {
      closed ??= (async () => {
        await neo4j.close();
        await status.close();
      })();
      return closed;
    },
  };
}
