/**
 * Neo4j servers for the chaos suite: the shared test server (exported by the global setup) for the
 * suites that only read and write, and a server of a suite's own for the suites that kill it.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import neo4j, { type Driver } from 'neo4j-driver';
import {
  killLocalNeo4j,
  resolveNeo4j,
  restartLocalNeo4j,
  stopNeo4j,
  type Log,
} from '../../../scripts/neo4j/provision';
import { neo4jConnection, type Neo4jTestConnection } from '../../support/neo4j';

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export interface OwnNeo4j extends Neo4jTestConnection {
  readonly stateDir: string;
  readonly host: string;
  readonly port: number;
  /** Milliseconds the first start took. */
  readonly startMs: number;
  kill(): Promise<void>;
  /** Starts it again on the same port, data and password; resolves when it answers. Returns ms taken. */
  restart(): Promise<number>;
  stop(): Promise<void>;
}

const quiet: Log = () => undefined;

/**
 * Starts a Neo4j of the caller's own under a temporary state directory. The launcher classpath already
 * built for the shared server (`.graphmill/neo4j/launcher-*`) is linked in, so no artifact is fetched
 * again; without one, provisioning builds it as it always does.
 */
export async function startOwnNeo4j(name: string): Promise<OwnNeo4j> {
  const stateDir = mkdtempSync(join(tmpdir(), `graphmill-chaos-${name}-`));
  const shared = join(REPO_ROOT, '.graphmill', 'neo4j');
  mkdirSync(join(stateDir, 'neo4j'), { recursive: true });
  if (existsSync(shared)) {
    for (const entry of readdirSync(shared)) {
      const full = join(shared, entry);
      if (/^(launcher-|standalone-)/.test(entry) && existsSync(join(full, '.complete'))) {
        symlinkSync(full, join(stateDir, 'neo4j', entry), 'dir');
      }
    }
  }
  const t0 = Date.now();
  const started = await resolveNeo4j({ stateDir, env: {}, log: quiet });
  const startMs = Date.now() - t0;
  const url = new URL(started.uri.replace(/^[a-z+]+:/, 'http:'));
  return {
    stateDir,
    uri: started.uri,
    username: started.username,
    password: started.password,
    host: url.hostname,
    port: Number(url.port),
    startMs,
    kill: () => killLocalNeo4j('SIGKILL', { stateDir, log: quiet }),
    async restart() {
      const t = Date.now();
      await restartLocalNeo4j({ stateDir, log: quiet });
      return Date.now() - t;
    },
    async stop() {
      await stopNeo4j(stateDir, { log: quiet, quiet: true });
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** The shared test server (NEO4J_* exported by the global setup). */
export function sharedNeo4j(): Neo4jTestConnection {
  return neo4jConnection();
}

export function adminDriver(conn: Neo4jTestConnection, userAgent = 'graphmill-chaos-admin'): Driver {
  return neo4j.driver(conn.uri, neo4j.auth.basic(conn.username, conn.password), {
    disableLosslessIntegers: true,
    userAgent,
    connectionTimeout: 5000,
    connectionAcquisitionTimeout: 10_000,
    maxTransactionRetryTime: 5000,
  });
}
