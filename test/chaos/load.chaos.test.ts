/**
 * Load: `graphmill serve` (the CLI, in-process: the real orchestrate function behind the functions
 * framework on 127.0.0.1) takes 200 concurrent requests, twice: new documents (written) and the same
 * documents again (unchanged). Against the shared test Neo4j; the server's open Bolt connections are
 * sampled from `dbms.listConnections()` by the user agent graphmill sets (`graphmill (pid N)`) and must
 * stay within NEO4J_MAX_POOL_SIZE. Zero errors; p50 / p99 latencies reported.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Driver } from 'neo4j-driver';
import { openStateDatabase } from '../../shared/adapters/sqlite/database';
import { SqliteStatusStore } from '../../shared/adapters/sqlite/status-store';
import { main } from '../../cli/main';
import { OutputCapture, scanForSecrets, leakFigures } from './support/capture';
import { makeCorpus } from './support/corpus';
import { deletePrefix } from './support/graph-dump';
import { adminDriver, sharedNeo4j } from './support/neo4j-servers';
import { recordFigures } from './support/results';
import { chaosScale } from './support/scale';

const scale = chaosScale();
const run = randomUUID().slice(0, 8);
const PREFIX = `chaos-load-${run}`;
const POOL = 8;
const capture = new OutputCapture();
let admin: Driver;
let dir: string;
const savedEnv = { ...process.env };

beforeAll(() => {
  capture.captureProcessStreams();
  admin = adminDriver(sharedNeo4j());
  dir = mkdtempSync(join(tmpdir(), 'graphmill-chaos-load-'));
});

afterAll(async () => {
  await deletePrefix(admin, PREFIX);
  await admin.close();
  rmSync(dir, { recursive: true, force: true });
  // `serve` writes its configuration into process.env (as the CLI process would): put it back.
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
  capture.restore();
  capture.dumpIfAsked('load');
});

async function graphmillConnections(): Promise<number> {
  const res = await admin.executeQuery(
    "CALL dbms.listConnections() YIELD connector, userAgent WHERE connector = 'bolt' AND userAgent = $agent RETURN count(*) AS n",
    { agent: `graphmill (pid ${process.pid})` },
  );
  return Number(res.records[0]?.get('n') ?? 0);
}

interface Wave {
  requests: number;
  ok: number;
  errors: string[];
  statuses: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  wallMs: number;
}

async function wave(port: number, ids: readonly string[], agent: http.Agent): Promise<Wave> {
  const latencies: number[] = [];
  const errors: string[] = [];
  const statuses: Record<string, number> = {};
  const t0 = Date.now();
  await Promise.all(
    ids.map(
      (id) =>
        new Promise<void>((resolve) => {
          const started = Date.now();
          const body = JSON.stringify({ document_id: id, action: 'process_document' });
          const req = http.request(
            {
              host: '127.0.0.1',
              port,
              method: 'POST',
              path: '/',
              agent,
              timeout: 120_000,
              headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
            },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => {
                latencies.push(Date.now() - started);
                const text = Buffer.concat(chunks).toString('utf8');
                let status = `http ${res.statusCode ?? 0}`;
                try {
                  status = (JSON.parse(text) as { status?: string }).status ?? status;
                } catch {
                  // not JSON: counted by its HTTP status
                }
                statuses[status] = (statuses[status] ?? 0) + 1;
                if (res.statusCode !== 200)
                  errors.push(`${id}: ${res.statusCode ?? 0} ${text.slice(0, 200)}`);
                resolve();
              });
            },
          );
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', (err) => {
            errors.push(`${id}: ${err.message}`);
            resolve();
          });
          req.end(body);
        }),
    ),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? 0;
  return {
    requests: ids.length,
    ok: ids.length - errors.length,
    errors,
    statuses,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: latencies.at(-1) ?? 0,
    wallMs: Date.now() - t0,
  };
}

it(`${scale.concurrentRequests} concurrent requests through graphmill serve: zero errors, Neo4j connections within the pool`, async () => {
  const findings: string[] = [];
  const conn = sharedNeo4j();
  const stateDir = join(dir, 'state');
  const docs = makeCorpus(PREFIX, scale.concurrentRequests, 0x10ad);
  const status = new SqliteStatusStore(openStateDatabase(stateDir));
  for (const d of docs)
    await status.register({ id: d.id, source: 'inline:', title: d.title, content: d.text }, Date.now());
  await status.close();

  // A webhook that is a secret too (never called here: nothing fails), on loopback.
  const webhook = `https://127.0.0.1:9/services/T0LOAD/B0LOAD/${randomBytes(18).toString('base64url')}`;
  let peak = 0;
  let samples = 0;
  let waves: { cold: Wave; warm: Wave } | undefined;
  const stderr = new PassThrough();
  const stdout = new PassThrough();
  const cliOut: string[] = [];
  stderr.on('data', (b: Buffer) => cliOut.push(b.toString('utf8')));
  stdout.on('data', (b: Buffer) => cliOut.push(b.toString('utf8')));

  const code = await main(['serve', '--port', '0', '--state-dir', stateDir, '--file-root', dir], {
    stdout,
    stderr,
    cwd: dir,
    env: {
      PATH: process.env['PATH'],
      METADATA_SERVER_DETECTION: 'none',
      NEO4J_URI: conn.uri,
      NEO4J_USERNAME: conn.username,
      NEO4J_PASSWORD: conn.password,
      NEO4J_MAX_POOL_SIZE: String(POOL),
      SLACK_WEBHOOK_URL: webhook,
      HTTPS_SOURCES: 'off',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
    },
    untilStopped: async (port) => {
      let sampling = true;
      const sampler = (async () => {
        const until = Date.now() + 300_000;
        while (sampling && Date.now() < until) {
          try {
            peak = Math.max(peak, await graphmillConnections());
            samples++;
          } catch {
            // a sample lost to load is not a connection
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
      try {
        const ids = docs.map((d) => d.id);
        const cold = await wave(port, ids, agent);
        const warm = await wave(port, ids, agent);
        waves = { cold, warm };
      } finally {
        sampling = false;
        await sampler;
        agent.destroy();
      }
    },
  });
  const after = await graphmillConnections();

  if (code !== 0) findings.push(`serve exited ${code}: ${cliOut.join('').slice(0, 300)}`);
  if (!waves) throw new Error('the load never ran');
  const { cold, warm } = waves;
  for (const [name, w] of Object.entries({ cold, warm })) {
    if (w.errors.length > 0)
      findings.push(`${name}: ${w.errors.length} errors, e.g. ${w.errors.slice(0, 3).join(' | ')}`);
  }
  if (peak > POOL) findings.push(`peak ${peak} Neo4j connections > pool ${POOL}`);
  if (cold.statuses['completed'] !== docs.length)
    findings.push(`cold wave: ${JSON.stringify(cold.statuses)}`);
  if (warm.statuses['unchanged'] !== docs.length)
    findings.push(`warm wave: ${JSON.stringify(warm.statuses)}`);
  const nodes = await admin.executeQuery(
    'MATCH (d:Document) WHERE d.id STARTS WITH $p RETURN count(d) AS n',
    {
      p: PREFIX,
    },
  );
  const documentsInGraph = Number(nodes.records[0]?.get('n') ?? 0);
  if (documentsInGraph !== docs.length)
    findings.push(`${documentsInGraph} documents in Neo4j, expected ${docs.length}`);

  const leaks = scanForSecrets(`${capture.text()}\n${cliOut.join('')}`, {
    neo4jPassword: conn.password,
    slackWebhookUrl: webhook,
  });
  if (leaks.occurrences > 0) findings.push(`secrets leaked: ${JSON.stringify(leaks.leaks)}`);
  if (!leaks.scannerVerified) findings.push('the leak scanner failed its self-test');

  const strip = (w: Wave) => ({ ...w, errors: w.errors.length });
  recordFigures('load', {
    concurrentRequests: docs.length,
    neo4jMaxPoolSize: POOL,
    peakConnections: peak,
    connectionSamples: samples,
    connectionsAfter: after,
    cold: strip(cold),
    warm: strip(warm),
    documentsInGraph,
    leaks: leakFigures(leaks),
    findings,
  });

  expect(samples).toBeGreaterThan(0);
  expect(peak).toBeGreaterThan(0);
  expect(findings).toEqual([]);
});
