/**
 * Every function through its real wiring (config from the environment, the composition root, the
 * functions framework), in local mode against the real Neo4j: what a deployment runs, minus GCP.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import { toPubSubCloudEvent } from '../../shared/events/codec';
import { openStateDatabase } from '../../shared/adapters/sqlite/database';
import { SqliteStatusStore } from '../../shared/adapters/sqlite/status-store';
import { loadHealth } from '../../functions/health/wiring';
import { loadIngestEvent } from '../../functions/ingestEvent/wiring';
import { loadOrchestrate } from '../../functions/orchestrate/wiring';
import { loadReconcile } from '../../functions/reconcile/wiring';
import { loadReplayDeadLetters } from '../../functions/replayDeadLetters/wiring';
import { loadWatchdog } from '../../functions/watchdog/wiring';
import { neo4jConnection } from '../support/neo4j';

const run = randomUUID().slice(0, 8);
const dir = mkdtempSync(join(tmpdir(), 'graphmill-functions-'));
const conn = neo4jConnection();
const env = {
  GRAPHMILL_MODE: 'local',
  GRAPHMILL_STATE_DIR: dir,
  NEO4J_URI: conn.uri,
  NEO4J_USERNAME: conn.username,
  NEO4J_PASSWORD: conn.password,
  LOG_LEVEL: 'error',
  HTTPS_SOURCES: 'off',
  GRAPHMILL_VERSION: 'abc1234',
  GRAPHMILL_BUILD_TIME: '2026-11-23T00:00:00Z',
};
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const close of closers) await close();
  rmSync(dir, { recursive: true, force: true });
});

async function http(
  name: string,
  load: Promise<{ handle: functions.HttpFunction; close: () => Promise<void> }>,
) {
  const fn = await load;
  closers.push(fn.close);
  functions.http(`${name}-${run}`, fn.handle);
  return request(getTestServer(`${name}-${run}`));
}

it('health reports every local dependency up, with the version', async () => {
  const res = await (await http('health', loadHealth(env))).get('/');
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({
    status: 'healthy',
    version: { gitSha: 'abc1234', buildTime: '2026-11-23T00:00:00Z' },
    dependencies: {
      neo4j: { status: 'up' },
      stateStore: { status: 'up' },
      analyticsLedger: { status: 'up' },
      secrets: { status: 'up' },
    },
    breakers: { firestore: 'closed', bigquery: 'closed' },
  });
});

it('ingestEvent processes the CloudEvent of an ingest request; orchestrate then finds it unchanged', async () => {
  const status = new SqliteStatusStore(openStateDatabase(dir));
  const id = `fn-${run}-doc`;
  await status.register(
    { id, source: 'inline:', content: 'Delivered by Pub/Sub. Written to Neo4j.' },
    Date.now(),
  );
  const ingest = await loadIngestEvent(env);
  closers.push(ingest.close);
  await ingest.handle(
    toPubSubCloudEvent(
      'ingest-requests',
      { documentId: id, action: 'process_document', requestedAt: new Date().toISOString() },
      {},
      {
        id: '1',
        time: new Date().toISOString(),
      },
    ),
  );
  expect(await status.get(id)).toMatchObject({ status: 'completed' });
  const res = await (
    await http('orchestrate', loadOrchestrate(env))
  )
    .post('/')
    .set('Content-Type', 'application/json')
    .send({ document_id: id });
  expect(res.body).toMatchObject({ status: 'unchanged', documentId: id });
  await status.close();
});

it.each([
  ['replayDeadLetters', loadReplayDeadLetters, { claimed: 0, succeeded: 0 }],
  ['watchdog', loadWatchdog, { alerted: [] }],
  ['reconcile', loadReconcile, { repairedInFirestore: [], repairedInBigquery: [], failed: [] }],
] as const)('%s answers POST with its JSON report and GET with 405', async (name, load, expected) => {
  const server = await http(name, load(env));
  const res = await server.post('/').send({});
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject(expected);
  expect((await server.get('/')).status).toBe(405);
});
