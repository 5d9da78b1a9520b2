/**
 * The orchestrate function against real Neo4j servers:
 * - the shared test server: 300 sequential + 100 concurrent calls in one process stay within the pool;
 * - a server of this suite's own: stopped (503 problem+json with Retry-After), restarted (recovery
 *   without restarting the process), and its password rotated together with the secret.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import neo4j, { type Driver } from 'neo4j-driver';
import request from 'supertest';
import { openStateDatabase } from '../../shared/adapters/sqlite/database';
import { SqliteStatusStore } from '../../shared/adapters/sqlite/status-store';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';
import type { SecretStore } from '../../shared/ports/secret-store';
import { loadOrchestrate } from '../../functions/orchestrate/wiring';
import { killLocalNeo4j, resolveNeo4j, restartLocalNeo4j, stopNeo4j } from '../../scripts/neo4j/provision';
import { neo4jConnection, type Neo4jTestConnection } from '../support/neo4j';

const run = randomUUID().slice(0, 8);
const POOL = 4;

async function graphmillConnections(admin: Driver): Promise<number> {
  const res = await admin.executeQuery(
    "CALL dbms.listConnections() YIELD connector, userAgent WHERE connector = 'bolt' AND userAgent = $agent RETURN count(*) AS n",
    { agent: `graphmill (pid ${process.pid})` },
  );
  return res.records[0]?.get('n') as number;
}

async function setUp(
  name: string,
  conn: Neo4jTestConnection,
  extraEnv: Record<string, string>,
  secrets?: SecretStore,
) {
  const dir = mkdtempSync(join(tmpdir(), `graphmill-${name}-`));
  const env = {
    GRAPHMILL_MODE: 'local',
    GRAPHMILL_STATE_DIR: dir,
    NEO4J_URI: conn.uri,
    NEO4J_USERNAME: conn.username,
    NEO4J_PASSWORD: conn.password,
    NEO4J_MAX_POOL_SIZE: String(POOL),
    LOG_LEVEL: 'error',
    LOG_FORMAT: 'pretty',
    ...extraEnv,
  };
  const fn: LoadedHttpFunction = await loadOrchestrate(env, secrets ? { secrets } : {});
  functions.http(name, (req, res) => fn.handle(req, res));
  const status = new SqliteStatusStore(openStateDatabase(dir));
  const register = (id: string, content: string) =>
    status.register({ id, source: 'inline:', content }, Date.now());
  const post = (body: unknown) =>
    request(getTestServer(name)).post('/').set('Content-Type', 'application/json').send(JSON.stringify(body));
  const cleanup = async () => {
    await fn.close();
    await status.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { post, register, cleanup };
}

describe('connection pool bound (shared test server)', () => {
  let admin: Driver;
  beforeAll(() => {
    const c = neo4jConnection();
    admin = neo4j.driver(c.uri, neo4j.auth.basic(c.username, c.password), {
      disableLosslessIntegers: true,
      userAgent: 'test-admin',
    });
  });
  afterAll(async () => {
    await admin.executeQuery(
      'MATCH (n) WHERE n.id STARTS WITH $p OR n.documentId STARTS WITH $p DETACH DELETE n',
      {
        p: `pool-${run}`,
      },
    );
    await admin.close();
  });

  it('300 sequential and 100 concurrent calls never open more connections than the pool allows', async () => {
    const f = await setUp('orchestrate-pool', neo4jConnection(), {});
    try {
      const ids = Array.from({ length: 100 }, (_, i) => `pool-${run}-${i}`);
      for (const id of ids) await f.register(id, `Document ${id}. ${'Some words to chunk. '.repeat(20)}`);

      let peak = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, await graphmillConnections(admin));
          await new Promise((r) => setTimeout(r, 20));
        }
      })();

      const statuses: number[] = [];
      for (let i = 0; i < 300; i++) {
        const res = await f.post({ document_id: ids[i % ids.length], action: 'process_document' });
        statuses.push(res.status);
      }
      const concurrent = await Promise.all(
        ids.map((id) => f.post({ document_id: id, action: 'reprocess_document' })),
      );
      statuses.push(...concurrent.map((r) => r.status));
      sampling = false;
      await sampler;

      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThanOrEqual(POOL);
      expect(await graphmillConnections(admin)).toBeLessThanOrEqual(POOL);
    } finally {
      await f.cleanup();
    }
  });
});

describe('a Neo4j of its own: outage, recovery and password rotation', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'graphmill-fault-neo4j-'));
  let conn: Neo4jTestConnection;
  let password: string;
  let secretReads = 0;
  const secrets: SecretStore = {
    get: () => {
      secretReads++;
      return Promise.resolve(password);
    },
    invalidate: () => undefined,
  };

  beforeAll(async () => {
    const started = await resolveNeo4j({ stateDir, env: {}, log: () => undefined });
    conn = { uri: started.uri, username: started.username, password: started.password };
    password = started.password;
  }, 240_000);
  afterAll(async () => {
    await stopNeo4j(stateDir, { log: () => undefined, quiet: true });
    rmSync(stateDir, { recursive: true, force: true });
  }, 90_000);

  it('answers 503 problem+json with Retry-After while Neo4j is down, and recovers when it is back', async () => {
    const f = await setUp('orchestrate-outage', conn, {
      NEO4J_MAX_TRANSACTION_RETRY_MS: '2000',
      NEO4J_CONNECTION_TIMEOUT_MS: '1000',
      NEO4J_ACQUISITION_TIMEOUT_MS: '3000',
    });
    try {
      await f.register('outage-doc', 'Before the outage. After the outage.');
      expect((await f.post({ document_id: 'outage-doc' })).status).toBe(200);

      await killLocalNeo4j('SIGKILL', { stateDir, log: () => undefined });
      const down = await f.post({ document_id: 'outage-doc', action: 'reprocess_document' });
      expect(down.status).toBe(503);
      expect(down.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(Number(down.headers['retry-after'])).toBeGreaterThan(0);
      expect(down.body).toMatchObject({ code: 'dependency_unavailable', retryable: true });

      await restartLocalNeo4j({ stateDir, log: () => undefined });
      const back = await f.post({ document_id: 'outage-doc', action: 'reprocess_document' });
      expect(back.status).toBe(200);
      expect(back.body.status).toBe('completed');
    } finally {
      await f.cleanup();
    }
  }, 180_000);

  it('recovers on the next call when the password and the secret change together', async () => {
    const f = await setUp('orchestrate-rotation', conn, {}, secrets);
    const admin = neo4j.driver(conn.uri, neo4j.auth.basic(conn.username, password), {
      userAgent: 'test-admin',
    });
    const newPassword = `rotated-${randomUUID()}`;
    try {
      await f.register('rotation-doc', 'The password changes under a running instance.');
      expect((await f.post({ document_id: 'rotation-doc' })).status).toBe(200);
      const readsBefore = secretReads;

      await admin.executeQuery(
        'ALTER CURRENT USER SET PASSWORD FROM $old TO $new',
        { old: password, new: newPassword },
        { database: 'system' },
      );
      password = newPassword;
      // Existing connections stay authenticated; drop them so the next call must log in again.
      await admin.executeQuery(
        'CALL dbms.listConnections() YIELD connectionId, userAgent WHERE userAgent = $agent WITH collect(connectionId) AS ids CALL dbms.killConnections(ids) YIELD connectionId RETURN count(*)',
        { agent: `graphmill (pid ${process.pid})` },
      );
      const after = await f.post({ document_id: 'rotation-doc', action: 'reprocess_document' });
      expect(after.status).toBe(200);
      expect(after.body.status).toBe('completed');
      // The rejected login made the instance read the secret again, exactly once.
      expect(secretReads).toBe(readsBefore + 1);
    } finally {
      await admin.close();
      await f.cleanup();
    }
  }, 120_000);
});
