/**
 * Large updates (reliability round 2, defect 1): a document at the size limit can be ingested, reprocessed,
 * and replaced by a small one, on a Neo4j of its own with the local launcher's default heap, through the
 * CLI as a user runs it. Before the switch was made constant-size, the reprocess of a 50 MB document failed
 * as `content_too_large`, and of a 100 MB one took the server down (`OutOfMemoryError: Java heap space`).
 *
 * The full run uses the default MAX_DOCUMENT_BYTES (128 MiB); CHAOS_SCALE=small sets the limit to 32 MiB
 * and writes a document of exactly that size.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Driver } from 'neo4j-driver';
import { runCli } from '../support/cli';
import { adminDriver, startOwnNeo4j, type OwnNeo4j } from './support/neo4j-servers';
import { recordFigures } from './support/results';
import { chaosScale } from './support/scale';

const scale = chaosScale();
const LIMIT = scale.name === 'small' ? 32 << 20 : 128 << 20;

/** Deterministic prose of exactly `bytes` ASCII bytes, with paragraphs, tagged so versions differ. */
function prose(bytes: number, tag: string): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const h = createHash('sha256').update(`${tag}:${i}`).digest('hex');
    const s = `Sentence ${i} of the ${tag} version mentions ${h.slice(0, 12)} and ${h.slice(12, 20)}.${i % 7 === 6 ? '\n\n' : ' '}`;
    parts.push(s);
    size += s.length;
  }
  return parts.join('').slice(0, bytes);
}

let neo: OwnNeo4j;
let driver: Driver;
let dir: string;

beforeAll(async () => {
  // The launcher's default heap: the point is that the defaults hold, so nothing may override them.
  delete process.env['GRAPHMILL_NEO4J_HEAP'];
  neo = await startOwnNeo4j('large-update');
  driver = adminDriver(neo);
  dir = mkdtempSync(join(tmpdir(), 'graphmill-large-update-'));
}, 180_000);

afterAll(async () => {
  await driver?.close();
  await neo?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[]) =>
  runCli([...args, '--state-dir', join(dir, 'state'), '--json'], {
    cwd: dir,
    env: {
      NEO4J_URI: neo.uri,
      NEO4J_USERNAME: neo.username,
      NEO4J_PASSWORD: neo.password,
      MAX_DOCUMENT_BYTES: String(LIMIT),
      LOG_LEVEL: 'error',
    },
  });

async function graphOf(id: string) {
  const res = await driver.executeQuery(
    `MATCH (d:Document {id: $id})
     OPTIONAL MATCH (c:Chunk {documentId: $id})
     WITH d, count(c) AS nodes, count(CASE WHEN c.generation = d.generation THEN 1 END) AS visible
     RETURN d.generation AS generation, d.chunkCount AS chunkCount, d.pendingCleanup AS pendingCleanup,
            nodes, visible`,
    { id },
  );
  return res.records[0]?.toObject() as {
    generation: number;
    chunkCount: number;
    pendingCleanup: boolean | null;
    nodes: number;
    visible: number;
  };
}

it(`ingests, reprocesses and shrinks a document at the size limit (${LIMIT >> 20} MiB) on the default heap`, async () => {
  const file = join(dir, 'big.txt');
  writeFileSync(file, prose(LIMIT, 'first'));

  const t0 = Date.now();
  const first = await cli(['ingest', file]);
  const ingestMs = Date.now() - t0;
  expect(first.stderr).toBe('');
  expect(first.code).toBe(0);
  const g1 = await graphOf('big.txt');
  expect(g1).toMatchObject({ generation: 1, pendingCleanup: null });
  expect(g1.nodes).toBe(g1.chunkCount);

  const t1 = Date.now();
  const again = await cli(['ingest', file, '--reprocess']);
  const reprocessMs = Date.now() - t1;
  expect(again.stderr).toBe('');
  expect(again.code).toBe(0);
  const g2 = await graphOf('big.txt');
  expect(g2).toMatchObject({ generation: 2, pendingCleanup: null, chunkCount: g1.chunkCount });
  expect(g2.nodes).toBe(g2.chunkCount); // the old generation is gone
  expect(g2.visible).toBe(g2.chunkCount);

  writeFileSync(file, prose(5_000, 'small'));
  const t2 = Date.now();
  const shrunk = await cli(['ingest', file]);
  const shrinkMs = Date.now() - t2;
  expect(shrunk.code).toBe(0);
  const g3 = await graphOf('big.txt');
  expect(g3).toMatchObject({ generation: 3, pendingCleanup: null });
  expect(g3.nodes).toBe(g3.chunkCount);
  expect(g3.chunkCount).toBeLessThan(10);

  // The server is still up and answering.
  const ping = await driver.executeQuery('RETURN 1 AS ok');
  expect(ping.records[0]?.get('ok')).toBe(1);

  recordFigures('large-update', {
    documentBytes: LIMIT,
    chunks: g1.chunkCount,
    ingestMs,
    reprocessMs,
    shrinkMs,
  });
});
