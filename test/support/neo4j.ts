/**
 * Neo4j connection for tests. The integration project's global setup (test/support/global-setup.ts)
 * provisions a server and exports NEO4J_URI / NEO4J_USERNAME / NEO4J_PASSWORD to the test workers.
 */
import neo4j, { type Driver } from 'neo4j-driver';
import { makeNeo4jAccess, type Neo4jAccess, type Neo4jAccessDeps } from '../../shared/adapters/neo4j/access';

export interface Neo4jTestConnection {
  uri: string;
  username: string;
  password: string;
}

export function neo4jConnection(env: NodeJS.ProcessEnv = process.env): Neo4jTestConnection {
  const uri = env['NEO4J_URI'];
  const password = env['NEO4J_PASSWORD'];
  if (!uri || password === undefined) {
    throw new Error(
      'NEO4J_URI / NEO4J_PASSWORD are not set: run these tests through the jest "integration" project ' +
        '(npm run test:int), whose global setup provisions Neo4j, or export the values printed by ' +
        '`npm run neo4j:start`.',
    );
  }
  return { uri, username: env['NEO4J_USERNAME'] || 'neo4j', password };
}

/** Runs fn with a driver for `conn` (default: the test Neo4j) and closes the driver afterwards. */
export async function withDriver<T>(
  fn: (driver: Driver) => Promise<T>,
  conn: Neo4jTestConnection = neo4jConnection(),
): Promise<T> {
  const driver = neo4j.driver(conn.uri, neo4j.auth.basic(conn.username, conn.password));
  try {
    return await fn(driver);
  } finally {
    await driver.close();
  }
}

/** graphmill's own Neo4j access to the test server, with small pool and short timeouts. */
export function testNeo4jAccess(extra: Partial<Neo4jAccessDeps> = {}): Neo4jAccess {
  const conn = neo4jConnection();
  return makeNeo4jAccess({
    settings: {
      uri: conn.uri,
      username: conn.username,
      maxConnectionPoolSize: 5,
      connectionTimeoutMs: 5000,
      connectionAcquisitionTimeoutMs: 10000,
      maxConnectionLifetimeMs: 600000,
      maxTransactionRetryTimeMs: 5000,
    },
    password: { get: () => Promise.resolve(conn.password), invalidate: () => undefined },
    ...extra,
  });
}
