/**
 * Poison documents (reliability round 2, defect 2): a document whose write statement drops the connection
 * every time it is sent (as an oversized statement that takes the server or the connection down) fails
 * permanently as `repeated_failure` after MAX_SAME_WRITE_FAILURES attempts, with its dead letter saying
 * why, while the other documents complete and the run is not stopped as if Neo4j were down. The shared test
 * Neo4j is reached through the fault proxy, which cuts any connection whose client sends the poison
 * document's marker text.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Driver } from 'neo4j-driver';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { runCli } from '../support/cli';
import { deletePrefix } from './support/graph-dump';
import { adminDriver, sharedNeo4j } from './support/neo4j-servers';
import { recordFigures } from './support/results';

const run = randomUUID().slice(0, 8);
const marker = `POISON-PILL-${run}`;
let proxy: FaultProxy;
let driver: Driver;
let dir: string;

beforeAll(async () => {
  const conn = sharedNeo4j();
  const url = new URL(conn.uri.replace(/^[a-z+]+:/, 'http:'));
  proxy = await startFaultProxy({ upstreamHost: url.hostname, upstreamPort: Number(url.port), seed: 7 });
  proxy.cutOnQueryContaining(marker);
  driver = adminDriver(conn);
  dir = mkdtempSync(join(tmpdir(), 'graphmill-poison-'));
  for (let i = 0; i < 4; i++) {
    writeFileSync(join(dir, `p${run}-${i}.txt`), `Document ${i} of run ${run}. It is fine.\n`);
  }
  writeFileSync(join(dir, `p${run}-poison.txt`), `This one carries ${marker} in its text.\n`);
});

afterAll(async () => {
  await deletePrefix(driver, `p${run}-`);
  await driver?.close();
  await proxy?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => {
  const conn = sharedNeo4j();
  return runCli([...args, '--state-dir', join(dir, '.state'), '--json'], {
    cwd: dir,
    env: {
      NEO4J_URI: `bolt://127.0.0.1:${proxy.port}`,
      NEO4J_USERNAME: conn.username,
      NEO4J_PASSWORD: conn.password,
      NEO4J_MAX_TRANSACTION_RETRY_MS: '300',
      LOG_LEVEL: 'error',
    },
  });
};

interface Summary {
  documentId: string;
  status: string;
  error?: { code: string; message: string };
}
const poisonOf = (out: string): Summary | undefined =>
  (JSON.parse(out) as { documents: Summary[] }).documents.find((d) => d.documentId.endsWith('-poison.txt'));

it('fails the poison document permanently on its third attempt, and only it', async () => {
  const codes: string[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    const res = await cli(['ingest', '.']);
    expect(res.code).toBe(1);
    const parsed = JSON.parse(res.stdout) as { documents: Summary[] };
    // Not a stop: every document was attempted, the good ones completed (or were unchanged).
    expect(parsed.documents).toHaveLength(5);
    for (const d of parsed.documents.filter((x) => !x.documentId.endsWith('-poison.txt'))) {
      expect(['completed', 'unchanged']).toContain(d.status);
    }
    const poison = poisonOf(res.stdout);
    expect(poison?.status).toBe('failed');
    codes.push(poison?.error?.code ?? '');
  }
  expect(codes).toEqual(['dependency_unavailable', 'dependency_unavailable', 'repeated_failure']);

  const status = await cli(['status', `p${run}-poison.txt`]);
  const record = JSON.parse(status.stdout) as { status: string; error: Record<string, unknown> };
  expect(record.status).toBe('failed');
  expect(record.error).toMatchObject({ code: 'repeated_failure', retryable: false, repeats: 3 });
  expect(String(record.error['message'])).toMatch(/failed the same way on 3 attempts in a row/);

  // Not a node of it reached the graph; the others are there.
  const res = await driver.executeQuery(
    'MATCH (d:Document) WHERE d.id STARTS WITH $p RETURN d.id AS id ORDER BY id',
    { p: `p${run}-` },
  );
  expect(res.records.map((r) => r.get('id') as string)).toEqual([0, 1, 2, 3].map((i) => `p${run}-${i}.txt`));
  expect(proxy.counters.cutOnQuery).toBeGreaterThanOrEqual(3);
  recordFigures('poison', { attempts: codes.length, connectionsCut: proxy.counters.cutOnQuery, codes });
});

it('an event that keeps failing the same way is dead-lettered for manual review, with the reason', async () => {
  const res = await cli(['ingest', `p${run}-poison.txt`, '--reprocess', '--batch', `poison-${run}`]);
  expect(res.code).not.toBe(0);
  const list = await cli(['dlq', 'list']);
  const { deadLetters } = JSON.parse(list.stdout) as {
    deadLetters: {
      status: string;
      operation: { documentId?: string };
      history: { code: string; message: string }[];
    }[];
  };
  const entry = deadLetters.find((d) => d.operation.documentId === `p${run}-poison.txt`);
  expect(entry?.status).toBe('manual_review');
  expect(entry?.history.at(-1)?.code).toBe('repeated_failure');
  expect(entry?.history.at(-1)?.message).toMatch(/failed the same way/);
});
