/**
 * The benchmark's Neo4j: NEO4J_URI if set (and answering), else the server recorded in .graphmill/neo4j.env,
 * else a local server started here (stopped again at the end; a server found running is never stopped).
 * Loopback only: the harness deletes its own `bench-` data between runs and must never do that on a shared
 * or production database.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import neo4j, { type Driver } from 'neo4j-driver';
import { parseConfig, type Config } from '../shared/config';
import { resolveNeo4j, stopNeo4j, type Neo4jConnection } from '../scripts/neo4j/provision';

/** Every node the harness creates has an id (Document) or documentId (Chunk) starting with this. */
export const BENCH_PREFIX = 'bench-';

export interface BenchNeo4j extends Neo4jConnection {
  readonly source: string;
  readonly startedHere: boolean;
  /**
   * CPU time (ms) the Neo4j server process has used so far, when it is the local server recorded under
   * .graphmill/neo4j (pid and port match); undefined otherwise (e.g. Docker or an external server).
   */
  readonly serverCpuMs: (() => number) | undefined;
  /** Stops the server only if this run started it. */
  release(): Promise<void>;
}

/** Linux USER_HZ: /proc/<pid>/stat reports CPU time in ticks of 1/100 s on every mainstream kernel. */
const CLOCK_TICKS_PER_SECOND = 100;

function processCpuMs(pid: number): number {
  // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** The local server's pid, if the server at `uri` is the one recorded under `stateDir`. */
export function localServerCpu(stateDir: string, uri: string): (() => number) | undefined {
  try {
    const pid = Number(readFileSync(path.join(stateDir, 'neo4j', 'neo4j.pid'), 'utf8').trim());
    const server = JSON.parse(readFileSync(path.join(stateDir, 'neo4j', 'server.json'), 'utf8')) as {
      port?: number;
    };
    if (!Number.isInteger(pid) || String(server.port) !== new URL(uri).port) return undefined;
    processCpuMs(pid);
    return () => processCpuMs(pid);
  } catch {
    return undefined;
  }
}

export function isLoopbackUri(uri: string): boolean {
  let host: string;
  try {
    host = new URL(uri).hostname;
  } catch {
    return false;
  }
  host = host.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

export async function connectBenchNeo4j(repoRoot: string, log: (line: string) => void): Promise<BenchNeo4j> {
  const fromEnv = process.env['NEO4J_URI'];
  if (fromEnv && !isLoopbackUri(fromEnv)) {
    throw new Error(
      `NEO4J_URI=${fromEnv} is not a loopback address; the benchmark only runs against a local Neo4j`,
    );
  }
  const stateDir = path.join(repoRoot, '.graphmill');
  const conn = await resolveNeo4j({ stateDir, log: (l) => log(`[neo4j] ${l}`) });
  if (!isLoopbackUri(conn.uri)) {
    if (conn.startedHere) await stopNeo4j(stateDir, { quiet: true });
    throw new Error(`${conn.uri} is not a loopback address; the benchmark only runs against a local Neo4j`);
  }
  return {
    uri: conn.uri,
    username: conn.username,
    password: conn.password,
    source: conn.source,
    startedHere: conn.startedHere,
    serverCpuMs: localServerCpu(stateDir, conn.uri),
    async release() {
      if (conn.startedHere) await stopNeo4j(stateDir, { log: (l) => log(`[neo4j] ${l}`) });
    },
  };
}

/** Environment variables for a child process (the CLI) to use the same server. */
export function neo4jEnv(conn: Neo4jConnection): Record<string, string> {
  return { NEO4J_URI: conn.uri, NEO4J_USERNAME: conn.username, NEO4J_PASSWORD: conn.password };
}

/** graphmill's configuration with its production defaults (pool size, batch size, timeouts...). */
export function defaultConfig(conn: Neo4jConnection, extra: Record<string, string> = {}): Config {
  return parseConfig({ ...neo4jEnv(conn), GRAPHMILL_MODE: 'local', ...extra });
}

/** A driver for the baselines and for housekeeping. */
export function benchDriver(conn: Neo4jConnection, maxConnectionPoolSize = 20): Driver {
  return neo4j.driver(conn.uri, neo4j.auth.basic(conn.username, conn.password), {
    disableLosslessIntegers: true,
    maxConnectionPoolSize,
    userAgent: 'graphmill-bench',
  });
}

/**
 * Deletes the documents and chunks whose ids start with `prefix` (which must start with `bench-`), in
 * batches. Uses the Document.id constraint and the Chunk.documentId index (STARTS WITH is an index seek).
 */
export async function cleanBenchData(driver: Driver, prefix: string = BENCH_PREFIX): Promise<void> {
  if (!prefix.startsWith(BENCH_PREFIX)) throw new Error(`refusing to delete data outside ${BENCH_PREFIX}*`);
  const session = driver.session();
  try {
    await session.run(
      `MATCH (c:Chunk) WHERE c.documentId STARTS WITH $p
       CALL { WITH c DETACH DELETE c } IN TRANSACTIONS OF 10000 ROWS`,
      { p: prefix },
    );
    await session.run(
      `MATCH (d:Document) WHERE d.id STARTS WITH $p
       CALL { WITH d DETACH DELETE d } IN TRANSACTIONS OF 10000 ROWS`,
      { p: prefix },
    );
  } finally {
    await session.close();
  }
}

/** Counts what a run left in the graph, to check that every writer produced the same graph. */
export async function countBenchGraph(
  driver: Driver,
  prefix: string,
): Promise<{ documents: number; chunks: number; partOf: number; next: number; first: number }> {
  const { records } = await driver.executeQuery(
    `MATCH (d:Document) WHERE d.id STARTS WITH $p
     OPTIONAL MATCH (d)-[f:FIRST_CHUNK]->()
     WITH count(DISTINCT d) AS documents, count(f) AS first
     CALL { MATCH (c:Chunk) WHERE c.documentId STARTS WITH $p
            OPTIONAL MATCH (c)-[po:PART_OF]->()
            WITH c, count(po) AS po
            OPTIONAL MATCH (c)-[n:NEXT_CHUNK]->()
            RETURN count(DISTINCT c) AS chunks, sum(po) AS partOf, count(n) AS next }
     RETURN documents, first, chunks, partOf, next`,
    { p: prefix },
  );
  const r = records[0];
  const n = (k: string): number => Number(r?.get(k) ?? 0);
  return {
    documents: n('documents'),
    chunks: n('chunks'),
    partOf: n('partOf'),
    next: n('next'),
    first: n('first'),
  };
}
