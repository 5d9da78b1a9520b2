/**
 * Sources that fail through the real entry points: `graphmill serve` (the orchestrate function, in local
 * mode) answering for local files the process may not read or that stopped being regular files, and
 * `graphmill ingest` of a signed https URL, whose query must reach nothing but the fetcher.
 */
import { randomUUID } from 'node:crypto';
import fs, { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect as netConnect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStateDatabase } from '../../shared/adapters/sqlite/database';
import { SqliteStatusStore } from '../../shared/adapters/sqlite/status-store';
import { makeHttpsSource, type ConnectTarget } from '../../shared/adapters/https/source';
import neo4j from 'neo4j-driver';
import { secretForms } from '../chaos/support/capture';
import { runCli } from '../support/cli';
import { installLoopbackTripwire } from '../support/loopback-tripwire';
import { neo4jConnection } from '../support/neo4j';

const tripwire = installLoopbackTripwire();
afterEach(() => expect(tripwire.tripped.splice(0)).toEqual([]));

const run = randomUUID().slice(0, 8);
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'graphmill-source-failures-'));
});
afterEach(() => {
  jest.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  type: string | null;
  body: Record<string, unknown>;
}

it('serve answers 422 or 404, never 500, for unreadable local files, and records a permanent failure', async () => {
  const [locked, socket, gone, readable] = ['locked', 'socket', 'gone', 'readable'].map(
    (n) => `${n}-${run}.md`,
  );
  const names = [locked, socket, gone, readable] as string[];
  for (const name of names) writeFileSync(join(dir, name), `# ${name}\n\nSome text to chunk.\n`);
  const stateDir = join(dir, 'state');
  const reg = await runCli(['register', ...names, '--state-dir', stateDir], { cwd: dir });
  expect(reg.code).toBe(0);

  // After registering: one file becomes a Unix socket, one is deleted, and one cannot be opened by this
  // process. Root reads a mode 000 file, so the EACCES of another user's file is injected at the open.
  const socketPath = join(dir, socket as string);
  rmSync(socketPath);
  const socketServer: Server = createServer();
  await new Promise<void>((resolve) => socketServer.listen(socketPath, resolve));
  rmSync(join(dir, gone as string));
  const lockedPath = join(dir, locked as string);
  const realOpen = fs.openSync;
  jest.spyOn(fs, 'openSync').mockImplementation((...args: Parameters<typeof fs.openSync>) => {
    if (args[0] === lockedPath) {
      throw Object.assign(new Error(`EACCES: permission denied, open '${lockedPath}'`), {
        code: 'EACCES',
        syscall: 'open',
      });
    }
    return realOpen(...args);
  });

  const answers: Answer[] = [];
  try {
    const res = await runCli(['serve', '--port', '0', '--state-dir', stateDir, '--file-root', dir], {
      cwd: dir,
      untilStopped: async (port) => {
        for (const [name, action] of [
          ...names.map((n) => [n, 'process_document']),
          [readable, 'delete_document'],
        ]) {
          const r = await fetch(`http://127.0.0.1:${port}/`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ document_id: name, action }),
          });
          answers.push({
            status: r.status,
            type: r.headers.get('content-type'),
            body: (await r.json()) as Record<string, unknown>,
          });
        }
      },
    });
    expect(res.code).toBe(0);
  } finally {
    await new Promise<void>((resolve) => socketServer.close(() => resolve()));
  }

  expect(answers.map((a) => [a.status, a.body['code'] ?? a.body['status']])).toEqual([
    [422, 'source_forbidden'],
    [422, 'source_forbidden'],
    [404, 'not_found'],
    [200, 'completed'],
    [200, 'deleted'],
  ]);
  for (const a of answers.slice(0, 3)) expect(a.type).toMatch(/application\/problem\+json/);

  const store = new SqliteStatusStore(openStateDatabase(stateDir));
  try {
    const stored = Object.fromEntries((await store.list()).map((d) => [d.id, d]));
    for (const [name, code] of [
      [locked, 'source_forbidden'],
      [socket, 'source_forbidden'],
      [gone, 'not_found'],
    ]) {
      expect(stored[name as string]).toMatchObject({
        status: 'failed',
        error: { stage: 'fetching', code, retryable: false },
      });
    }
    expect(stored[socket as string]?.error?.message).toMatch(/not a regular file \(ENXIO\)/);
    expect(stored[locked as string]?.error?.message).toMatch(/may not be read \(EACCES/);
  } finally {
    await store.close();
  }
});

/** A public-looking address the injected resolver gives; the injected connector dials loopback instead. */
const PUBLIC_ADDRESS = '93.184.216.34';
const SIGNED_HOST = `signed-${run}.example.test`;

it('ingest of a signed https URL keeps the signature out of the id, the status, the graph and every output', async () => {
  const signature = `5f1c0a9e${randomUUID().replace(/-/g, '')}${randomUUID().replace(/-/g, '')}`;
  const credential = `signer-${run}@acme-docs.iam.gserviceaccount.com/20250101/auto/storage/goog4_request`;
  const query =
    `X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=${encodeURIComponent(credential)}` +
    `&X-Goog-Date=20250101T000000Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature=${signature}`;
  const found = `https://${SIGNED_HOST}/reports/found.txt?${query}`;
  const missing = `https://${SIGNED_HOST}/reports/missing.txt?${query}`;

  // The document server on loopback; it sees the whole URL, as a real signed-URL server must.
  const served: string[] = [];
  const server = createHttpServer((req, res) => {
    served.push(req.url ?? '');
    if (req.url?.startsWith('/reports/found.txt?')) {
      res
        .writeHead(200, { 'content-type': 'text/plain' })
        .end('A signed report.\n\nIt is chunked.\n'.repeat(20));
    } else {
      res.writeHead(404).end('no such object');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const targets: ConnectTarget[] = [];
  const source = makeHttpsSource({
    resolve: (hostname) =>
      Promise.resolve(hostname === SIGNED_HOST ? [{ address: PUBLIC_ADDRESS, family: 4 }] : []),
    // Plain HTTP on the socket: TLS is the connector's job, and this one only ever dials loopback.
    connect: (target) => {
      targets.push(target);
      if (target.address !== PUBLIC_ADDRESS) throw new Error(`refusing ${target.address}`);
      return netConnect({ host: '127.0.0.1', port });
    },
  });

  // Everything the CLI's logger writes, at the debug level. winston's Console transport writes to the
  // console's own streams (the process's, or the test runner's buffer when tests run in workers).
  const written: string[] = [];
  const runnerConsole = console as unknown as { _stdout?: NodeJS.WriteStream; _stderr?: NodeJS.WriteStream };
  const streams = new Set([process.stdout, process.stderr, runnerConsole._stdout, runnerConsole._stderr]);
  for (const stream of streams) {
    if (stream === undefined) continue;
    jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    });
  }
  const stateDir = join(dir, 'state');
  const cli = (args: string[]) =>
    runCli([...args, '--state-dir', stateDir], {
      cwd: dir,
      // Only the injected https source serves https:// (the configured one would be picked last).
      env: { LOG_LEVEL: 'debug', HTTPS_SOURCES: 'off' },
      runtime: { sources: [source] },
    });
  const conn = neo4jConnection();
  const driver = neo4j.driver(conn.uri, neo4j.auth.basic(conn.username, conn.password), {
    disableLosslessIntegers: true,
  });
  try {
    const ingested = await cli(['ingest', found, missing, '--json']);
    const again = await cli(['ingest', found, '--json']);
    const status = await cli(['status', '--json']);
    jest.restoreAllMocks();

    const documents = (JSON.parse(ingested.stdout) as { documents: Record<string, unknown>[] }).documents;
    const hashOf = /_q_([0-9a-f]{16})$/;
    expect(documents).toEqual([
      expect.objectContaining({
        documentId: expect.stringMatching(new RegExp(`^${SIGNED_HOST}/reports/found.txt_q_[0-9a-f]{16}$`)),
        source: expect.stringContaining('X-Goog-Signature=[REDACTED]'),
        status: 'completed',
      }),
      expect.objectContaining({
        documentId: expect.stringMatching(new RegExp(`^${SIGNED_HOST}/reports/missing.txt_q_[0-9a-f]{16}$`)),
        status: 'failed',
        error: expect.objectContaining({ code: 'not_found' }),
      }),
    ]);
    const [foundId, missingId] = documents.map((d) => d['documentId'] as string);
    // The same URL, the same id: the second ingest finds the document unchanged.
    expect(hashOf.exec(foundId as string)?.[1]).toBe(hashOf.exec(missingId as string)?.[1]);
    expect(JSON.parse(again.stdout)).toMatchObject({
      documents: [{ documentId: foundId, status: 'unchanged' }],
    });
    // The fetcher still sends the whole signed URL (both documents, and the found one again).
    expect(served.length).toBeGreaterThanOrEqual(3);
    expect(served.filter((u) => !u.endsWith(`&X-Goog-Signature=${signature}`))).toEqual([]);
    expect(targets.every((t) => t.address === PUBLIC_ADDRESS)).toBe(true);

    // The status store keeps the URL whole only in `source`, for the fetcher.
    const store = new SqliteStatusStore(openStateDatabase(stateDir));
    const records = await store.list();
    await store.close();
    expect(Object.fromEntries(records.map((r) => [r.id, r.source]))).toEqual({
      [foundId as string]: found,
      [missingId as string]: missing,
    });
    const storedWithoutSource = JSON.stringify(records.map(({ source: _source, ...rest }) => rest));

    const session = driver.session();
    let graph: string;
    try {
      const result = await session.run(
        'MATCH (n) WHERE n.id IN $ids OR n.documentId IN $ids RETURN properties(n) AS p',
        { ids: [foundId, missingId] },
      );
      graph = JSON.stringify(result.records.map((r) => r.get('p') as Record<string, unknown>));
      expect(result.records.length).toBeGreaterThan(1);
      const document = result.records
        .map((r) => r.get('p') as Record<string, unknown>)
        .find((p) => p['id'] === foundId);
      expect(document?.['source']).toBe(
        `https://${SIGNED_HOST}/reports/found.txt?${query.replace(/=[^&]*/g, '=[REDACTED]')}`,
      );
    } finally {
      await session.close();
    }

    const shown: Record<string, string> = {
      'ingest output': ingested.stdout + ingested.stderr,
      'second ingest output': again.stdout + again.stderr,
      'status output': status.stdout + status.stderr,
      logs: written.join(''),
      'status store (but source)': storedWithoutSource,
      neo4j: graph,
    };
    // The logs are there to be scanned: the fetch and the failure were logged at the debug level.
    expect(shown['logs']).toContain(missingId);
    const leaks = Object.entries(shown).flatMap(([where, text]) =>
      [signature, credential].flatMap((secret) =>
        secretForms(secret)
          .filter((form) => text.includes(form))
          .map(
            (form) =>
              `${where}: ${form === secret ? 'raw' : 'encoded'} ${secret === signature ? 'signature' : 'credential'}`,
          ),
      ),
    );
    expect(leaks).toEqual([]);
  } finally {
    jest.restoreAllMocks();
    const session = driver.session();
    try {
      await session.run(
        'MATCH (n) WHERE n.id STARTS WITH $p OR n.documentId STARTS WITH $p DETACH DELETE n',
        {
          p: SIGNED_HOST,
        },
      );
    } finally {
      await session.close();
      await driver.close();
    }
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
