/**
 * Minimal reproductions of the product bugs the chaos suites found, one `describe` each. Every test here
 * states the behaviour graphmill promises and fails until the bug is fixed; docs/reliability.md lists
 * them with their cause and the proposed fix.
 *
 * 1. Neo4j: a COMMIT that Neo4j applied but whose reply never reached the driver (the connection died in
 *    between). The driver's managed transaction (executeWrite) treats the lost reply as transient and
 *    runs the transaction function again; graphmill's write must come out of that retry as if the first
 *    reply had arrived: completed, lease released, and the same chunk ids as a write that was not
 *    retried. Deterministic: the fault proxy swallows the reply of the COMMIT of one chosen transaction
 *    (recognised by its Cypher), armed when the pipeline reports the `chunking` stage.
 * 2. The local bus: an event out of delivery attempts is dead-lettered even when the status store fails
 *    while the document is being marked.
 * 3. file:// sources: a directory or a FIFO inside the file root is refused (4xx), at once.
 * 4. HTTP: a body that cannot be decompressed is answered with problem+json like every other error.
 * 5. submit_batch: a client that retries gets a batch submitted while some status reads and publishes fail.
 * 6. Neo4j: a server that accepts connections but never answers (a restarting server, a black hole)
 *    makes the driver's connection acquisition time out: that is a dependency being unavailable (503,
 *    retried), not a bug (500, manual review).
 * 7. Neo4j: a credentials failure (the neo4j-fault run sees a burst of them while its server restarts)
 *    makes graphmill re-read the password and rebuild the driver. Requests already running on the old
 *    driver must not fail with an unclassified "Pool is closed" (500, manual review).
 * 8. The same refresh must not leave writes in flight hanging: the neo4j-fault run saw three documents
 *    stuck in `writing` for good (no Neo4j connection open, no timeout) after one credentials failure.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, constants as fsConstants, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { Neo4jError, type Driver } from 'neo4j-driver';
import { RecordingAlerter } from '../../shared/alerts/recording';
import { parseConfig } from '../../shared/config';
import { makeFileSource } from '../../shared/adapters/file/source';
import { dependencyUnavailable, toGraphmillError } from '../../shared/errors';
import { installBodyErrorProblems } from '../../shared/http/body-errors';
import { makeNeo4jAccess } from '../../shared/adapters/neo4j/access';
import { classifyNeo4jError } from '../../shared/adapters/neo4j/errors';
import { silentLogger } from '../../shared/logging';
import { iterateChunks } from '../../shared/chunking';
import { runDocument } from '../../shared/pipeline';
import { compose, type Composition as Runtime } from '../../shared/runtime';
import { InMemoryStatusStore } from '../../shared/adapters/memory/status-store';
import type { DocumentRecord } from '../../shared/status/types';
import type { StatusStore } from '../../shared/ports/status-store';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { FaultInjector, PUBLISHER_SPEC, injectInPlace, injectIntoClass } from '../support/faults';
import { graphProblems, inspectDocument } from '../support/graph-inspect';
import { MemoryGraphWriter } from '../../shared/adapters/memory/graph-writer';
import { deletePrefix } from './support/graph-dump';
import { adminDriver, sharedNeo4j } from './support/neo4j-servers';
import { CHUNK_SIZE, chaosRuntime, localEnv } from './support/pipeline';

const run = randomUUID().slice(0, 8);
const PREFIX = `chaos-ack-${run}`;
let proxy: FaultProxy;
let admin: Driver;

beforeAll(async () => {
  const conn = sharedNeo4j();
  const url = new URL(conn.uri.replace(/^[a-z+]+:/, 'http:'));
  proxy = await startFaultProxy({ upstreamHost: url.hostname, upstreamPort: Number(url.port), seed: 7 });
  admin = adminDriver(conn);
});

afterAll(async () => {
  await deletePrefix(admin, PREFIX);
  await admin.close();
  await proxy.close();
});

function runtimeThroughProxy(): Runtime {
  const conn = sharedNeo4j();
  return chaosRuntime(
    localEnv({
      stateDir: '/nonexistent-unused',
      neo4j: { ...conn, uri: `bolt://127.0.0.1:${proxy.port}` },
      extra: { STATUS_STORE: 'memory', COMPLETION_LEDGERS: 'memory', NEO4J_MAX_TRANSACTION_RETRY_MS: '5000' },
    }),
    silentLogger,
    {},
  );
}

/**
 * Runs one document; the reply of the COMMIT of the first transaction that sends a query containing
 * `query` after the `writing` progress report that precedes the write (progress 0) is lost. Returns what the caller saw, the status left
 * behind, the generation the graph ended on, and the graph's problems.
 */
async function runWithLostAck(id: string, text: string, query: string) {
  const runtime = runtimeThroughProxy();
  try {
    const status = runtime.adapters.pipeline.status;
    await status.register({ id, source: 'inline:', content: text }, Date.now());
    const progress = status.progress.bind(status);
    (status as { progress: typeof status.progress }).progress = async (docId, owner, stage, pct, now) => {
      if (stage === 'writing' && pct === 0) proxy.armCommitAckLoss({ afterQueryContaining: query });
      return progress(docId, owner, stage, pct, now);
    };
    const lostBefore = proxy.counters.commitAcksLost;
    let outcome: string;
    try {
      outcome = (await runDocument(runtime.adapters.pipeline, { documentId: id, action: 'process_document' }))
        .status;
    } catch (err) {
      outcome = `error ${toGraphmillError(err).code}: ${toGraphmillError(err).message}`;
    }
    const record = await status.get(id);
    const graph = await inspectDocument(admin, id);
    return {
      acksLost: proxy.counters.commitAcksLost - lostBefore,
      outcome,
      status: `${record?.status ?? 'missing'}${record?.error ? ` (${record.error.code})` : ''}`,
      leaseHeld: record?.leaseOwner !== undefined,
      // A first write is generation 1 (chunk ids <id>#1#<index>), whatever was retried underneath.
      generation: graph.document?.['generation'],
      problems: graphProblems(graph, text, CHUNK_SIZE),
    };
  } finally {
    await runtime.close();
  }
}

const WRITTEN_ONCE = {
  acksLost: 1,
  outcome: 'completed',
  status: 'completed',
  leaseHeld: false,
  generation: 1,
  problems: [],
};
const LARGE = Array.from(
  { length: 120 },
  (_, i) => `Sentence ${i} of a large document, staged in batches.`,
).join(' ');

describe('1. Neo4j: a lost COMMIT acknowledgement', () => {
  it('a small document (one transaction): completes as generation 1 and releases its lease', async () => {
    const text = 'A small document. It fits in one write transaction.';
    // The transaction that creates the chunks (NEXT_CHUNK links them).
    const result = await runWithLostAck(`${PREFIX}/small.md`, text, 'NEXT_CHUNK');
    expect(result.acksLost).toBe(1);
    expect(result).toEqual(WRITTEN_ONCE);
  });

  it('a large document, first staged batch: completes as generation 1', async () => {
    const result = await runWithLostAck(`${PREFIX}/large-batch.md`, LARGE, 'NEXT_CHUNK');
    expect(result.acksLost).toBe(1);
    expect(result).toEqual(WRITTEN_ONCE);
  });

  it('a large document, the generation switch: completes as generation 1 and releases its lease', async () => {
    // The switch is the only transaction of the large path that links FIRST_CHUNK.
    const result = await runWithLostAck(`${PREFIX}/large-flip.md`, LARGE, 'FIRST_CHUNK');
    expect(result.acksLost).toBe(1);
    expect(result).toEqual(WRITTEN_ONCE);
  });
});

const MEMORY_ENV = {
  NEO4J_URI: 'bolt://127.0.0.1:9',
  NEO4J_PASSWORD: 'unused-never-dialled',
  GRAPHMILL_MODE: 'local',
  STATUS_STORE: 'memory',
  COMPLETION_LEDGERS: 'memory',
  EVENT_BUS: 'local',
  HTTPS_SOURCES: 'off',
};

function memoryRuntime(graph: MemoryGraphWriter, bus: { maxDeliveryAttempts: number }) {
  return compose(parseConfig(MEMORY_ENV), silentLogger, {
    graph,
    alerter: new RecordingAlerter(),
    sleep: () => Promise.resolve(),
    bus,
  });
}

describe('2. local bus: the dead letter of an event out of deliveries', () => {
  it('is written even when the status store fails while the document is marked dead-lettered', async () => {
    const graph = new MemoryGraphWriter();
    graph.failWith = dependencyUnavailable('Neo4j is down');
    const runtime = memoryRuntime(graph, { maxDeliveryAttempts: 1 });
    try {
      const status = runtime.adapters.pipeline.status;
      await status.register({ id: 'doc-1', source: 'inline:', content: 'Some text.' }, Date.now());
      await runtime.forFunction('test').batches.submit({ batchId: 'b1', documentIds: ['doc-1'] });
      // The one delivery fails (Neo4j down) and records its failure; from then on the status store's
      // reads fail, in the adapter (under any retry graphmill wraps around it), until the bus is idle.
      const proto = InMemoryStatusStore.prototype;
      const realFail = Object.getOwnPropertyDescriptor(proto, 'fail');
      const realGet = Object.getOwnPropertyDescriptor(proto, 'get');
      let storeDown = false;
      const originalFail = proto.fail;
      const originalGet = proto.get;
      proto.fail = async function (this: InMemoryStatusStore, ...args: Parameters<typeof originalFail>) {
        await originalFail.apply(this, args);
        storeDown = true;
      };
      proto.get = function (this: InMemoryStatusStore, id: string) {
        if (storeDown) return Promise.reject(dependencyUnavailable('status store unavailable (injected)'));
        return originalGet.call(this, id);
      };
      try {
        await runtime.adapters.bus?.drain();
      } finally {
        // The methods may be inherited (the store is built over a shared implementation): then the patch
        // is deleted, not redefined.
        if (realFail) Object.defineProperty(proto, 'fail', realFail);
        else delete (proto as Partial<InMemoryStatusStore>).fail;
        if (realGet) Object.defineProperty(proto, 'get', realGet);
        else delete (proto as Partial<InMemoryStatusStore>).get;
      }
      const letters = await runtime.adapters.deadLetters.list();
      // The operation must survive somewhere: a dead letter to replay.
      expect(
        letters.map((l) => (l.operation.kind === 'document' ? l.operation.documentId : l.operation.kind)),
      ).toEqual(['doc-1']);
    } finally {
      await runtime.close();
    }
  });
});

describe('3. file:// sources: what is inside the root but not a regular file', () => {
  const root = mkdtempSync(join(tmpdir(), 'graphmill-chaos-file-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const record = (source: string): DocumentRecord => ({
    id: 'doc-1',
    source,
    status: 'processing',
    attempt: 1,
    createdAt: 0,
    updatedAt: 0,
  });

  it('a directory is refused with a 4xx, not a 500', async () => {
    mkdirSync(join(root, 'subdir'));
    let error: unknown;
    try {
      await makeFileSource(root).fetch(record(`file://${root}/subdir`), { maxBytes: 1_000_000 });
    } catch (err) {
      error = err;
    }
    const e = toGraphmillError(error);
    expect({ status: e.status, retryable: e.retryable }).toEqual({ status: 422, retryable: false });
  });

  it('a FIFO is refused at once instead of blocking until a writer appears', async () => {
    const fifo = join(root, 'fifo');
    if (spawnSync('mkfifo', [fifo]).status !== 0) return; // no mkfifo on this system
    const fetched = makeFileSource(root)
      .fetch(record(`file://${fifo}`), { maxBytes: 1000 })
      .then(
        () => 'read',
        (err: unknown) => `refused ${toGraphmillError(err).status}`,
      );
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      fetched,
      new Promise<string>((r) => {
        timer = setTimeout(() => r('still blocked after 2 s'), 2000);
      }),
    ]);
    clearTimeout(timer);
    // Let a blocked open(2) go, so nothing is left hanging in the thread pool.
    try {
      closeSync(openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
    } catch {
      // nobody is blocked on it
    }
    await fetched;
    expect(outcome).toBe('refused 422');
  });
});

describe('4. HTTP: a request body that cannot be decompressed', () => {
  /** Raw http: supertest would re-serialise a Buffer sent as application/json. */
  async function post(server: Server, body: Buffer): Promise<{ status: number; type: string }> {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    try {
      return await new Promise((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/',
            headers: {
              'content-type': 'application/json',
              'content-encoding': 'gzip',
              'content-length': body.length,
            },
          },
          (res) => {
            res.resume();
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']) }),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  it('is answered with application/problem+json like every other error', async () => {
    installBodyErrorProblems();
    let reached = 0;
    functions.http('chaos-repro-gzip', (_req, res) => {
      reached++;
      res.status(200).json({ ok: true });
    });
    // Compressed bodies are refused before any parser inflates them (a decompression bomb costs nothing),
    // valid or not, and the answer is problem+json.
    const problem = { status: 415, type: expect.stringMatching(/^application\/problem\+json/) };
    const valid = await post(getTestServer('chaos-repro-gzip'), gzipSync('{"document_id":"a"}'));
    expect(valid).toEqual(problem);
    const broken = await post(getTestServer('chaos-repro-gzip'), Buffer.from('{"document_id":"a"}'));
    expect(broken).toEqual(problem);
    expect(reached).toBe(0);
  });
});

describe('5. submit_batch under transient store and publisher failures', () => {
  it('a client retrying 10 times gets a 50-document batch submitted while 20% of status reads and publishes fail', async () => {
    const runtime = memoryRuntime(new MemoryGraphWriter(), { maxDeliveryAttempts: 5 });
    const ids = Array.from({ length: 50 }, (_, i) => `doc-${i}`);
    const injector = new FaultInjector({ seed: 5, rate: 0.2, ackLostShare: 0 });
    // In the adapters, under whatever graphmill wraps around the ports.
    const undo = [
      injectIntoClass(
        InMemoryStatusStore.prototype as StatusStore,
        { port: 'status', writes: [], reads: ['get'] },
        injector,
      ),
      injectInPlace(runtime.adapters.bus ?? runtime.adapters.publisher, PUBLISHER_SPEC, injector),
    ];
    try {
      for (const id of ids) {
        await runtime.adapters.pipeline.status.register({ id, source: 'inline:', content: id }, Date.now());
      }
      injector.enabled = true;
      let submitted = false;
      for (let attempt = 0; attempt < 10 && !submitted; attempt++) {
        try {
          await runtime.forFunction('test').batches.submit({ batchId: 'b1', documentIds: ids });
          submitted = true;
        } catch {
          // the client retries the same batch id (idempotent)
        }
      }
      injector.enabled = false;
      expect({ submitted, faults: (injector.totals()['publisher']?.failed ?? 0) > 0 }).toEqual({
        submitted: true,
        faults: true,
      });
    } finally {
      for (const u of undo) u();
      await runtime.close();
    }
  });
});

describe('6. Neo4j: connection acquisition timing out', () => {
  it('is dependency_unavailable (503, retryable), not internal', async () => {
    const conn = sharedNeo4j();
    const runtime = chaosRuntime(
      localEnv({
        stateDir: '/nonexistent-unused',
        neo4j: { ...conn, uri: `bolt://127.0.0.1:${proxy.port}` },
        extra: {
          STATUS_STORE: 'memory',
          COMPLETION_LEDGERS: 'memory',
          NEO4J_CONNECTION_TIMEOUT_MS: '10000',
          NEO4J_ACQUISITION_TIMEOUT_MS: '1500',
        },
      }),
      silentLogger,
      {},
    );
    try {
      const status = runtime.adapters.pipeline.status;
      for (const id of ['a', 'b']) {
        await status.register(
          { id: `${PREFIX}/stall-${id}.md`, source: 'inline:', content: `Document ${id}.` },
          Date.now(),
        );
      }
      // The driver is built and verified; then the pooled connections die and new ones hang.
      await runDocument(runtime.adapters.pipeline, {
        documentId: `${PREFIX}/stall-a.md`,
        action: 'process_document',
      });
      proxy.stall(true);
      proxy.cut(1);
      let error: unknown;
      try {
        await runDocument(runtime.adapters.pipeline, {
          documentId: `${PREFIX}/stall-b.md`,
          action: 'process_document',
        });
      } catch (err) {
        error = err;
      } finally {
        proxy.stall(false);
      }
      const e = toGraphmillError(error);
      expect({ code: e.code, status: e.status, retryable: e.retryable, message: e.message }).toEqual({
        code: 'dependency_unavailable',
        status: 503,
        retryable: true,
        message: expect.any(String) as unknown,
      });
    } finally {
      await runtime.close();
    }
  });
});

describe('7. Neo4j: a credentials failure while other requests are in flight', () => {
  it('leaves the requests in flight succeeding or failing retryably, not with an unclassified error', async () => {
    const conn = sharedNeo4j();
    const access = makeNeo4jAccess({
      settings: {
        uri: conn.uri,
        username: conn.username,
        database: undefined,
        maxConnectionPoolSize: 4,
        connectionTimeoutMs: 5000,
        connectionAcquisitionTimeoutMs: 5000,
        maxConnectionLifetimeMs: 60_000,
        maxTransactionRetryTimeMs: 2000,
      },
      password: { get: () => Promise.resolve(conn.password), invalidate: () => undefined },
    });
    try {
      let release = (): void => undefined;
      const barrier = new Promise<void>((resolve) => {
        release = resolve;
      });
      let started = (): void => undefined;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      // A request in flight on the current driver: it has the driver and is about to open its session.
      const inFlight = access
        .withDriver(async (driver) => {
          started();
          await barrier;
          const session = driver.session();
          try {
            await session.executeRead((tx) => tx.run('RETURN 1'));
          } finally {
            await session.close();
          }
        })
        // What the graph writer does with a failure (shared/neo4j/graph-writer.ts inSession).
        .then(
          () => 'completed',
          (err: unknown) => {
            const e = toGraphmillError(classifyNeo4jError(err) ?? err);
            return e.retryable ? `retryable ${e.code}` : `permanent ${e.code}: ${e.message}`;
          },
        );
      await running;
      // Meanwhile another request is told the credentials were rejected (as during the server restart).
      const rejected = () =>
        Promise.reject(
          new Neo4jError('The client is unauthorized', 'Neo.ClientError.Security.Unauthorized', 'N/A', 'N/A'),
        );
      await access.withDriver(rejected).catch(() => undefined);
      release();
      expect(await inFlight).toMatch(/^(completed|retryable )/);
    } finally {
      await access.close();
    }
  });
});

describe('8. Neo4j: writes in flight when the driver is rebuilt after a credentials failure', () => {
  it('all settle (written, or failed retryably) instead of hanging', async () => {
    const conn = sharedNeo4j();
    const runtime = chaosRuntime(
      localEnv({
        stateDir: '/nonexistent-unused',
        neo4j: conn,
        extra: { STATUS_STORE: 'memory', COMPLETION_LEDGERS: 'memory', NEO4J_MAX_POOL_SIZE: '8' },
      }),
      silentLogger,
      {},
    );
    try {
      const graph = runtime.adapters.pipeline.graph;
      await graph.ensureSchema();
      const options = { chunkSize: CHUNK_SIZE, chunkOverlap: 40 };
      const writes = Array.from({ length: 6 }, (_, i) =>
        graph
          .writeDocument(
            { id: `${PREFIX}/inflight-${i}.md`, source: 'inline:', contentHash: 'h', ...options },
            iterateChunks(LARGE, options),
          )
          .then(
            () => 'written',
            (err: unknown) => {
              const e = toGraphmillError(err);
              return e.retryable ? 'failed retryably' : `failed permanently: ${e.code} ${e.message}`;
            },
          ),
      );
      // The writes are under way; one request is told the credentials were rejected.
      await new Promise((r) => setTimeout(r, 30));
      await runtime.adapters.neo4j
        .withDriver(() =>
          Promise.reject(
            new Neo4jError(
              'The client is unauthorized',
              'Neo.ClientError.Security.Unauthorized',
              'N/A',
              'N/A',
            ),
          ),
        )
        .catch(() => undefined);
      const settled = await Promise.all(
        writes.map((w) =>
          Promise.race([
            w,
            new Promise<string>((r) => setTimeout(() => r('still pending after 20 s'), 20_000).unref()),
          ]),
        ),
      );
      expect(settled.filter((o) => o !== 'written' && o !== 'failed retryably')).toEqual([]);
    } finally {
      // Bounded: a hung write must not hold the suite.
      await Promise.race([runtime.close(), new Promise((r) => setTimeout(r, 5000).unref())]);
    }
  });
});
