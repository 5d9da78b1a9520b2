/**
 * Neo4j connection for tests. The integration project's global setup (test/support/global-setup.ts)
 * provisions a server and exports NEO4J_URI / NEO4J_USERNAME / NEO4J_PASSWORD to the test workers.
 */
import neo4j, { type Driver } from 'neo4j-driver';

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
