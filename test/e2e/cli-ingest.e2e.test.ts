/**
 * `graphmill ingest --json` end to end: arbitrary UTF-8 files through the CLI, the SQLite state store and
 * a real Neo4j; the resulting graph is checked against each file's decoded text.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import neo4j, { type Driver } from 'neo4j-driver';
import { RESILIENCE_PRESETS } from '../../shared/resilience';
import { runCli } from '../support/cli';
import { graphProblems, inspectDocument } from '../support/graph-inspect';
import { neo4jConnection } from '../support/neo4j';

const run = randomUUID().slice(0, 8);
let dir: string;
let driver: Driver;

interface Summary {
  documentId: string;
  source: string;
  status: string;
  chunkCount: number;
  durationMs: number;
  error?: { code: string; message: string };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'graphmill-e2e-'));
  const conn = neo4jConnection();
  driver = neo4j.driver(conn.uri, neo4j.auth.basic(conn.username, conn.password), {
    disableLosslessIntegers: true,
  });
});

afterAll(async () => {
  const session = driver.session();
  try {
    await session.run('MATCH (n) WHERE n.id STARTS WITH $p OR n.documentId STARTS WITH $p DETACH DELETE n', {
      p: `e2e-${run}`,
    });
  } finally {
    await session.close();
  }
  await driver.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Text pieces that stress the chunker: words, sentences, paragraphs, CRLF, emoji, CJK, long tokens. */
const piece = fc.oneof(
  fc.constantFrom(
    '\n\n',
    '\n',
    '\r\n',
    ' ',
    '. ',
    '! ',
    '? ',
    '。',
    '😀',
    '🧪🧬',
    '中文字符',
    'é',
    'a'.repeat(150),
  ),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.lorem({ maxCount: 12, mode: 'sentences' }),
);
const textArb = fc.array(piece, { maxLength: 120 }).map((parts) => parts.join(''));

async function ingest(stateDir: string, paths: string[], extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const res = await runCli(
    [
      'ingest',
      ...paths,
      '--json',
      '--state-dir',
      stateDir,
      '--chunk-size',
      '120',
      '--chunk-overlap',
      '30',
      ...extra,
    ],
    { cwd: dir, env },
  );
  const parsed = JSON.parse(res.stdout || '{"documents": []}') as { documents: Summary[] };
  return { ...res, documents: parsed.documents };
}

async function countNodes(): Promise<{ nodes: number; rels: number }> {
  const session = driver.session();
  try {
    const r = await session.run(
      `MATCH (n) WHERE n.id STARTS WITH $p OR n.documentId STARTS WITH $p
       OPTIONAL MATCH (n)-[r]->()
       RETURN count(DISTINCT n) AS nodes, count(r) AS rels`,
      { p: `e2e-${run}` },
    );
    return { nodes: r.records[0]?.get('nodes') as number, rels: r.records[0]?.get('rels') as number };
  } finally {
    await session.close();
  }
}

it('ingests arbitrary UTF-8 files into a graph that satisfies every invariant, and re-ingest is unchanged', async () => {
  const texts = fc.sample(textArb, { numRuns: 30, seed: 4242 });
  texts.push('', '   \n\t  ', 'x'.repeat(1000), '😀'.repeat(300));
  const files = texts.map((t, i) => {
    const name = `e2e-${run}-doc-${String(i).padStart(2, '0')}.txt`;
    writeFileSync(join(dir, name), t, 'utf8');
    return name;
  });
  const stateDir = join(dir, 'state-a');

  const first = await ingest(stateDir, files);
  expect(first.stderr).toBe('');
  expect(first.code).toBe(0);
  expect(first.documents).toHaveLength(files.length);
  for (const d of first.documents) {
    expect(d.status).toBe('completed');
    const text = readFileSync(join(dir, d.documentId), 'utf8');
    const g = await inspectDocument(driver, d.documentId);
    expect({ id: d.documentId, problems: graphProblems(g, text, 120) }).toEqual({
      id: d.documentId,
      problems: [],
    });
    expect(g.document?.['chunkCount']).toBe(d.chunkCount);
    expect(d.source).toMatch(/^file:\/\//);
  }

  const before = await countNodes();
  const again = await ingest(stateDir, files);
  expect(again.code).toBe(0);
  expect(again.documents.map((d) => d.status)).toEqual(files.map(() => 'unchanged'));
  expect(await countNodes()).toEqual(before);

  // Same files, new state directory: the graph, not the state store, decides what is unchanged.
  const fresh = await ingest(join(dir, 'state-b'), files);
  expect(fresh.documents.every((d) => d.status === 'unchanged')).toBe(true);
  expect(await countNodes()).toEqual(before);
});

it('re-ingesting a changed file leaves no chunk of the old version behind', async () => {
  const name = `e2e-${run}-changing.md`;
  const stateDir = join(dir, 'state-c');
  writeFileSync(join(dir, name), '# Old title\n\n' + 'Old sentence about the past. '.repeat(40));
  await ingest(stateDir, [name]);
  const v2 = '# New title\n\n' + 'New words for a new version! '.repeat(25);
  writeFileSync(join(dir, name), v2);
  const res = await ingest(stateDir, [name]);
  expect(res.documents[0]).toMatchObject({ status: 'completed' });
  const g = await inspectDocument(driver, name);
  expect(graphProblems(g, v2, 120)).toEqual([]);
  expect(g.chunks.some((c) => c.text.includes('Old'))).toBe(false);
  expect(g.document?.['generation']).toBe(2);
});

it('binary and non-UTF-8 files fail with a clear error, write nothing, and set a non-zero exit code', async () => {
  const good = `e2e-${run}-good.txt`;
  const binary = `e2e-${run}-image.png`;
  const latin1 = `e2e-${run}-latin1.txt`;
  writeFileSync(join(dir, good), 'A fine document.');
  writeFileSync(join(dir, binary), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]));
  writeFileSync(join(dir, latin1), Buffer.from('caf\xe9 cr\xe8me', 'latin1'));
  const res = await ingest(join(dir, 'state-d'), [good, binary, latin1]);
  expect(res.code).toBe(1);
  const byId = new Map(res.documents.map((d) => [d.documentId, d]));
  expect(byId.get(good)?.status).toBe('completed');
  for (const bad of [binary, latin1]) {
    expect(byId.get(bad)).toMatchObject({ status: 'failed', error: { code: 'unsupported_content' } });
    expect(byId.get(bad)?.error?.message).toMatch(/binary|UTF-8/);
    expect((await inspectDocument(driver, bad)).document).toBeUndefined();
    expect((await inspectDocument(driver, bad)).allChunkNodes).toBe(0);
  }
  const status = await runCli(['status', binary, '--json', '--state-dir', join(dir, 'state-d')], {
    cwd: dir,
  });
  expect(JSON.parse(status.stdout)).toMatchObject({
    status: 'failed',
    error: { code: 'unsupported_content', stage: 'chunking', retryable: false },
  });
});

it('group commit: any group size and concurrency give the same graph, per-document outcomes and statuses', async () => {
  // 23 documents: small ones, two larger than a write batch (WRITE_BATCH_SIZE=6 chunks), an empty one, a
  // binary one; the same contents under three prefixes, ingested with different group settings.
  const contents = Array.from({ length: 23 }, (_, i) =>
    i === 5 || i === 17
      ? 'A longer document sentence that goes on. '.repeat(40)
      : i === 9
        ? ''
        : `Document ${i}. It has a sentence or two.\n\n${'More words here. '.repeat(i % 7)}`,
  );
  const settings: [string, string[]][] = [
    ['g1', ['--group-size', '1', '--concurrency', '1']],
    ['g7', ['--group-size', '7', '--concurrency', '2']],
    ['gd', []],
  ];
  const env = { WRITE_BATCH_SIZE: '6' };
  const outcomes: Record<string, string[]> = {};
  const graphs: Record<string, unknown[]> = {};
  for (const [prefix, args] of settings) {
    const files = contents.map((t, i) => {
      const name = `e2e-${run}-${prefix}-${String(i).padStart(2, '0')}.txt`;
      writeFileSync(join(dir, name), t);
      return name;
    });
    const binary = `e2e-${run}-${prefix}-binary.txt`;
    writeFileSync(join(dir, binary), Buffer.from([0x00, 0x01, 0x02, 0x03]));
    const stateDir = join(dir, `state-group-${prefix}`);
    const res = await ingest(stateDir, [...files, binary], args, env);
    expect(res.code).toBe(1);
    expect(res.documents.map((d) => d.documentId)).toEqual([...files, binary]);
    outcomes[prefix] = res.documents.map((d) => `${d.status}:${d.chunkCount}:${d.error?.code ?? ''}`);
    graphs[prefix] = [];
    for (const [i, name] of files.entries()) {
      const g = await inspectDocument(driver, name);
      expect({ name, problems: graphProblems(g, contents[i] as string, 120) }).toEqual({
        name,
        problems: [],
      });
      graphs[prefix]?.push(g.chunks.map((c) => c.text));
    }
    const statuses = await runCli(['status', '--json', '--state-dir', stateDir], { cwd: dir });
    const records = (
      JSON.parse(statuses.stdout) as { documents: { id: string; status: string; leaseOwner?: string }[] }
    ).documents;
    expect(records.filter((r) => r.status === 'completed')).toHaveLength(files.length);
    expect(records.find((r) => r.id === binary)).toMatchObject({ status: 'failed' });
    expect(records.every((r) => r.leaseOwner === undefined)).toBe(true);

    // Again: every document is unchanged, nothing is written, the binary one fails again.
    const second = (await ingest(stateDir, [...files, binary], args, env)).documents;
    expect(second.map((d) => d.status)).toEqual([...files.map(() => 'unchanged'), 'failed']);
    for (const name of files) expect((await inspectDocument(driver, name)).document?.['generation']).toBe(1);
  }
  expect(outcomes['g7']).toEqual(outcomes['g1']);
  expect(outcomes['gd']).toEqual(outcomes['g1']);
  expect(graphs['g7']).toEqual(graphs['g1']);
  expect(graphs['gd']).toEqual(graphs['g1']);
});

it('register records documents without processing them, with the same JSON shape', async () => {
  const name = `e2e-${run}-registered.txt`;
  writeFileSync(join(dir, name), 'Registered, not processed.');
  const stateDir = join(dir, 'state-e');
  const res = await runCli(['register', name, '--json', '--state-dir', stateDir], { cwd: dir });
  expect(res.code).toBe(0);
  expect(JSON.parse(res.stdout)).toEqual({
    documents: [
      {
        documentId: name,
        source: expect.stringMatching(/^file:\/\//),
        status: 'pending',
        chunkCount: 0,
        durationMs: 0,
      },
    ],
  });
  expect((await inspectDocument(driver, name)).document).toBeUndefined();
  const list = await runCli(['status', '--json', '--state-dir', stateDir], { cwd: dir });
  expect(JSON.parse(list.stdout).documents).toEqual([
    expect.objectContaining({ id: name, status: 'pending' }),
  ]);
});

it('rejects bad options with a usage error and touches nothing', async () => {
  const res = await runCli(['ingest', 'nothing-here.txt', '--chunk-size', '-5'], { cwd: dir });
  expect(res.code).toBe(2);
  expect(res.stderr).toMatch(/chunk-size/);
  for (const [flag, value] of [
    ['--group-size', '0'],
    ['--concurrency', '0'],
    ['--group-size', '2.5'],
  ]) {
    const bad = await runCli(['ingest', 'nothing-here.txt', flag as string, value as string], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(new RegExp(`${flag} must be a positive integer`));
  }
  // A command group answers through the CLI's own streams and exit code, like every command.
  const unknown = await runCli(['dlq', 'bogus'], { cwd: dir });
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/unknown command 'bogus'/);
  const overlap = await runCli(
    ['ingest', 'x', '--chunk-size', '10', '--chunk-overlap', '10', '--state-dir', join(dir, 'state-f')],
    { cwd: dir },
  );
  expect(overlap.code).not.toBe(0);
});

it('ingest --batch runs the event pipeline on the in-process bus; status --batch and dlq show the outcome', async () => {
  const names = Array.from({ length: 6 }, (_, i) => `e2e-${run}-batch-${i}.txt`);
  names.forEach((n, i) =>
    writeFileSync(join(dir, n), `Batch document ${i}. It is short.\n\nBut it has two paragraphs.`),
  );
  const broken = `e2e-${run}-batch-broken.bin`;
  writeFileSync(join(dir, broken), Buffer.from([0xff, 0xfe, 0x00, 0x01]));
  const stateDir = join(dir, 'state-batch');
  const batchId = `e2e-${run}-batch`;

  const res = await runCli(
    ['ingest', ...names, broken, '--batch', batchId, '--json', '--state-dir', stateDir],
    { cwd: dir },
  );
  expect(res.code).toBe(1);
  const out = JSON.parse(res.stdout) as {
    documents: Summary[];
    batch: { status: string; phases: { phase: string; succeeded: number; failed: number }[] };
  };
  expect(out.documents.filter((d) => d.status === 'completed')).toHaveLength(6);
  expect(out.documents.find((d) => d.documentId === broken)).toMatchObject({
    status: 'failed',
    error: { code: 'unsupported_content' },
  });
  expect(out.batch).toMatchObject({
    status: 'completed',
    phases: [{ phase: 'ingest', succeeded: 6, failed: 1 }],
  });
  for (const n of names) {
    expect(graphProblems(await inspectDocument(driver, n), readFileSync(join(dir, n), 'utf8'), 120)).toEqual(
      [],
    );
  }

  const status = await runCli(['status', '--batch', batchId, '--json', '--state-dir', stateDir], {
    cwd: dir,
  });
  const view = JSON.parse(status.stdout) as {
    documents: { documentId: string; status: string }[];
    summary: { failed: number };
  };
  expect(view.documents).toHaveLength(7);
  expect(view.summary).toMatchObject({ failed: 1, succeeded: 6 });

  const dlq = await runCli(['dlq', 'list', '--json', '--state-dir', stateDir], { cwd: dir });
  const entries = (
    JSON.parse(dlq.stdout) as {
      deadLetters: { id: string; status: string; operation: { documentId: string } }[];
    }
  ).deadLetters;
  expect(entries).toEqual([
    expect.objectContaining({
      status: 'manual_review',
      operation: expect.objectContaining({ documentId: broken }),
    }),
  ]);
  const resolved = await runCli(['dlq', 'resolve', entries[0]?.id ?? '', '--state-dir', stateDir], {
    cwd: dir,
  });
  expect(resolved.code).toBe(0);
  const after = await runCli(['dlq', 'list', '--json', '--state-dir', stateDir], { cwd: dir });
  expect(JSON.parse(after.stdout).deadLetters).toEqual([]);

  const reconcile = await runCli(['reconcile', '--json', '--state-dir', stateDir], { cwd: dir });
  expect(JSON.parse(reconcile.stdout)).toMatchObject({
    repairedInFirestore: [],
    repairedInBigquery: [],
    failed: [],
  });
});

/** Bolt connections this process's graphmill drivers hold, as the server lists them (by user agent). */
async function graphmillConnections(): Promise<number> {
  const res = await driver.executeQuery(
    "CALL dbms.listConnections() YIELD connector, userAgent WHERE connector = 'bolt' AND userAgent = $agent RETURN count(*) AS n",
    { agent: `graphmill (pid ${process.pid})` },
  );
  return res.records[0]?.get('n') as number;
}

it('an ingest whose every document fails before any write exits with no connection left open', async () => {
  // The schema check starts before registration; with nothing to write, the run ends while it may still
  // be connecting. A connection left open would keep `graphmill ingest` from exiting.
  const only = join(dir, 'only-binary');
  mkdirSync(only);
  writeFileSync(join(only, `e2e-${run}-alone.bin`), Buffer.from([0x61, 0x00, 0x62]));
  const res = await ingest(join(dir, 'state-fail-fast'), [only]);
  expect(res.code).toBe(1);
  expect(res.documents.map((d) => [d.status, d.error?.code])).toEqual([['failed', 'unsupported_content']]);
  let open = await graphmillConnections();
  for (let i = 0; open > 0 && i < 20; i++) {
    await new Promise((r) => setTimeout(r, 100)); // the server sees a closed socket a moment later
    open = await graphmillConnections();
  }
  expect(open).toBe(0);
});

/** A loopback port where no Neo4j answers: every connection is dropped at once, and counted. */
async function droppingServer(): Promise<{
  port: number;
  connections: () => number;
  close: () => Promise<void>;
}> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}

it('an unreachable Neo4j stops the ingest after one connect sequence; what was not attempted stays pending', async () => {
  const src = join(dir, 'unreachable');
  mkdirSync(src);
  const names = [1, 2, 3, 4].map((i) => `e2e-${run}-down-${i}.txt`);
  for (const n of names) writeFileSync(join(src, n), `Document ${n}.\n\nSome text to chunk.`);
  const stateDir = join(dir, 'state-unreachable');
  const neo4jDown = await droppingServer();
  const res = await runCli(
    ['ingest', src, '--json', '--state-dir', stateDir, '--group-size', '1', '--concurrency', '1'],
    {
      cwd: dir,
      env: {
        NEO4J_URI: `bolt://127.0.0.1:${neo4jDown.port}`,
        NEO4J_USERNAME: 'neo4j',
        NEO4J_PASSWORD: 'x',
      },
      // The connect policy's backoff, without the waiting: the attempts and their bound stay as they are.
      runtime: { sleep: () => Promise.resolve() },
    },
  ).finally(neo4jDown.close);
  expect(res.code).toBe(1);
  const { documents } = JSON.parse(res.stdout) as { documents: Summary[] };
  // The first group waited for the connect sequence (the early schema check's, shared) and failed; the
  // three groups after it did not start one each.
  expect(documents.map((d) => [d.documentId, d.status, d.error?.code])).toEqual([
    [names[0], 'failed', 'dependency_unavailable'],
    [names[1], 'pending', 'dependency_unavailable'],
    [names[2], 'pending', 'dependency_unavailable'],
    [names[3], 'pending', 'dependency_unavailable'],
  ]);
  expect(documents[1]?.error?.message).toMatch(/^not attempted: Neo4j at 127\.0\.0\.1:\d+ is unreachable/);
  // One connect sequence: the connect policy's 8 attempts, one connection each. Without the stop, each of
  // the three later groups ran a sequence of its own (32 connections).
  expect(neo4jDown.connections()).toBe(RESILIENCE_PRESETS.neo4jConnect.retry.maxAttempts);

  // The state agrees: nothing is left in processing, and a later run takes the pending documents up.
  const status = await runCli(['status', '--json', '--state-dir', stateDir], { cwd: dir });
  const stored = (JSON.parse(status.stdout) as { documents: { id: string; status: string }[] }).documents;
  expect(Object.fromEntries(stored.map((d) => [d.id, d.status]))).toEqual({
    [names[0] as string]: 'failed',
    [names[1] as string]: 'pending',
    [names[2] as string]: 'pending',
    [names[3] as string]: 'pending',
  });
});

it('register and ingest take https:// and gs:// sources, fetched through the guarded sources', async () => {
  const stateDir = join(dir, 'state-remote');
  const reg = await runCli(
    [
      'register',
      'https://docs.example.test/guide/intro.md?v=2',
      'gs://acme-docs/reports/q3 summary.txt',
      '--json',
      '--state-dir',
      stateDir,
    ],
    { cwd: dir },
  );
  expect(reg.code).toBe(0);
  expect(JSON.parse(reg.stdout).documents).toEqual([
    expect.objectContaining({
      // The query only as the first 16 hex characters of its SHA-256, and redacted wherever it is shown.
      documentId: 'docs.example.test/guide/intro.md_q_269fc203435a89d1',
      source: 'https://docs.example.test/guide/intro.md?v=[REDACTED]',
      status: 'pending',
    }),
    expect.objectContaining({
      documentId: 'acme-docs/reports/q3_20summary.txt',
      source: 'gs://acme-docs/reports/q3%20summary.txt',
      status: 'pending',
    }),
  ]);
  // A loopback target is refused by the https source's address policy before any connection.
  const res = await ingest(stateDir, ['https://127.0.0.1:1/secret.txt']);
  expect(res.code).toBe(1);
  expect(res.documents[0]).toMatchObject({ status: 'failed', error: { code: 'source_forbidden' } });
  expect((await inspectDocument(driver, '127.0.0.1:1/secret.txt')).document).toBeUndefined();
});
