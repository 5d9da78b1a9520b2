import neo4j, { type Driver } from 'neo4j-driver';

export interface Neo4jSettings {
  readonly uri: string;
  readonly username: string;
  /** Resolved per driver build, so a rotated secret is picked up when the driver is rebuilt. */
  readonly password: () => Promise<string>;
  readonly database?: string | undefined;
  readonly maxConnectionPoolSize: number;
  readonly connectionTimeoutMs: number;
  readonly connectionAcquisitionTimeoutMs: number;
  readonly maxConnectionLifetimeMs: number;
  readonly maxTransactionRetryTimeMs: number;
}

/** One driver per process instance, created on first use and closed on shutdown. */
export interface Neo4jAccess {
  driver(): Promise<Driver>;
  readonly database: string | undefined;
  /** Closes the current driver; the next `driver()` call builds a new one (used after an auth failure). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export function makeNeo4jAccess(settings: Neo4jSettings): Neo4jAccess {
  let current: Promise<Driver> | undefined;
  const build = async (): Promise<Driver> => {
    const password = await settings.password();
    return neo4j.driver(settings.uri, neo4j.auth.basic(settings.username, password), {
      maxConnectionPoolSize: settings.maxConnectionPoolSize,
      connectionTimeout: settings.connectionTimeoutMs,
      connectionAcquisitionTimeout: settings.connectionAcquisitionTimeoutMs,
      maxConnectionLifetime: settings.maxConnectionLifetimeMs,
      maxTransactionRetryTime: settings.maxTransactionRetryTimeMs,
      disableLosslessIntegers: true,
      userAgent: 'graphmill',
    });
  };
  const closeCurrent = async (): Promise<void> => {
    const d = current;
    current = undefined;
    if (d) await (await d).close();
  };
  return {
    database: settings.database,
    driver() {
      current ??= build().catch((err: unknown) => {
        current = undefined;
        throw err;
      });
      return current;
    },
    reset: closeCurrent,
    close: closeCurrent,
  };
}
