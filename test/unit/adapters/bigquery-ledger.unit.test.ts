/**
 * The real @google-cloud/bigquery client against a local server that speaks the REST API
 * (tabledata.insertAll and jobs.query), asserting on the exact requests the ledger makes.
 *
 * Offline: `apiEndpoint` points at 127.0.0.1 and `authClient` is a stub whose getRequestHeaders returns a
 * fixed bearer header, so google-auth-library never looks for credentials (no metadata server, no
 * oauth2.googleapis.com), and `projectId` is given, so nothing asks for it. A tripwire on
 * `net.Socket#connect` fails the suite if anything dials a non-loopback address.
 */

/**
 * The client's HTTP transport, teeny-request, loads node-fetch (ESM only) with a dynamic `import()`, which
 * jest's module sandbox refuses without --experimental-vm-modules. So teeny-request alone is loaded by
 * Node's own loader (reached through the host realm's `process`, since jest wraps the sandbox's), where
 * that import works; everything above it (@google-cloud/common, the BigQuery client, the adapter) runs
 * in jest as usual. The bytes on the wire are the real client's.
 */
jest.mock('teeny-request', () => {
  // Buffer is the host realm's, so its constructor's constructor is the host's Function.
  const hostProcess = (Buffer.constructor as FunctionConstructor)('return process') as () => NodeJS.Process;
  return hostProcess().getBuiltinModule('node:module').createRequire(__filename)('teeny-request') as unknown;
});

import * as http from 'node:http';
import * as net from 'node:net';
import type { BigQueryOptions } from '@google-cloud/bigquery';
import {
  BigQueryCompletionLedger,
  type BigQueryCompletionLedgerOptions,
  type Retry,
} from '../../../shared/adapters/bigquery/completion-ledger';
import { GraphmillError } from '../../../shared/errors';
import { makeRetry } from '../../../shared/resilience/policies';
import { fixedRandom, makeFakeTime, type FakeTime } from '../../../shared/resilience/testing';
import type { CompletionRecord } from '../../../shared/tracking/types';
import { installLoopbackTripwire } from '../../support/loopback-tripwire';

// ---------------------------------------------------------------------------------------------------------
// Loopback only

const tripwire = installLoopbackTripwire();

// ---------------------------------------------------------------------------------------------------------
// The fake BigQuery REST API

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}
interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body: unknown;
}

let seen: Seen[];
/** Scripted answers, used in order before the defaults. */
let replies: Reply[];
/** The jobs.query answer when nothing is scripted. */
let queryReply: unknown;
let server: http.Server;
let endpoint: string;

const INSERT_PATH = '/bigquery/v2/projects/test-project/datasets/graphmill/tables/completions/insertAll';
const QUERY_PATH = '/bigquery/v2/projects/test-project/queries';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      seen.push({
        method: req.method ?? '',
        path,
        headers: req.headers,
        body: raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>),
      });
      const scripted = replies.shift();
      const reply: Reply = scripted ?? {
        status: 200,
        body: path.endsWith('/insertAll') ? { kind: 'bigquery#tableDataInsertAllResponse' } : queryReply,
      };
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  seen = [];
  replies = [];
  queryReply = queryResult([], []);
});

function queryResult(
  fields: readonly [string, string][],
  rows: readonly (readonly unknown[])[],
  extra = {},
): unknown {
  return {
    kind: 'bigquery#queryResponse',
    jobComplete: true,
    jobReference: { projectId: 'test-project', jobId: 'job-1', location: 'EU' },
    schema: { fields: fields.map(([name, type]) => ({ name, type, mode: 'NULLABLE' })) },
    ...(rows.length > 0 ? { rows: rows.map((r) => ({ f: r.map((v) => ({ v })) })) } : {}),
    totalRows: String(rows.length),
    ...extra,
  };
}

const googleError = (status: number, reason: string, headers: Record<string, string> = {}): Reply => ({
  status,
  headers,
  body: {
    error: {
      code: status,
      message: `${reason} happened`,
      errors: [{ reason, message: `${reason} happened` }],
    },
  },
});

// ---------------------------------------------------------------------------------------------------------
// The ledger under test

const offlineAuth = {
  getRequestHeaders: () => Promise.resolve(new Headers({ authorization: 'Bearer offline-test-token' })),
} as unknown as NonNullable<BigQueryOptions['authClient']>;

function ledger(extra: Partial<BigQueryCompletionLedgerOptions> = {}): BigQueryCompletionLedger {
  return new BigQueryCompletionLedger({
    projectId: 'test-project',
    location: 'EU',
    apiEndpoint: endpoint,
    clientOptions: { authClient: offlineAuth },
    clock: () => Date.parse('2026-03-01T12:00:05.000Z'),
    ...extra,
  });
}

function retrying(maxAttempts = 4): { time: FakeTime; retry: Retry } {
  const time = makeFakeTime(1_000_000);
  const policy = makeRetry({
    name: 'bigquery',
    maxAttempts,
    initialDelayMs: 100,
    maxDelayMs: 10_000,
    maxTotalMs: 60_000,
    clock: time.clock,
    sleep: time.sleep,
    random: fixedRandom(0.5),
  });
  return { time, retry: (fn) => policy.execute(() => fn()) };
}

const completion: CompletionRecord = {
  completionId: '0123456789abcdef0123456789abcdef',
  documentId: 'docs/guide.md',
  batchId: 'batch-7',
  phase: 'ingest',
  status: 'succeeded',
  chunkCount: 12,
  contentHash: 'sha256:abc',
  durationMs: 1234.6,
  attempt: 2,
  functionName: 'orchestrate',
  correlationId: 'corr-1',
  occurredAt: Date.parse('2026-03-01T12:00:00.000Z'),
};

async function failure(promise: Promise<unknown>): Promise<GraphmillError> {
  const err: unknown = await promise.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GraphmillError);
  return err as GraphmillError;
}

const queryParams = (s: Seen | undefined): Record<string, { type: string; value: unknown }> =>
  Object.fromEntries(
    (
      (s?.body['queryParameters'] ?? []) as {
        name: string;
        parameterType: { type: string };
        parameterValue: { value: unknown };
      }[]
    ).map((p) => [p.name, { type: p.parameterType.type, value: p.parameterValue.value }]),
  );

// ---------------------------------------------------------------------------------------------------------

describe('record', () => {
  it('streams one row with insertId = completionId, strict about the schema', async () => {
    await ledger().record(completion);
    expect(seen).toHaveLength(1); // no MERGE per record: aggregates are refreshed in batches
    expect(tripwire.loopbackConnects()).toBeGreaterThan(0); // the tripwire sits on the client's real path
    const [insert] = seen;
    expect(insert?.method).toBe('POST');
    expect(insert?.path).toBe(INSERT_PATH);
    expect(insert?.headers.authorization).toBe('Bearer offline-test-token');
    expect(insert?.body).toEqual({
      skipInvalidRows: false,
      ignoreUnknownValues: false,
      rows: [
        {
          insertId: '0123456789abcdef0123456789abcdef',
          json: {
            completion_id: '0123456789abcdef0123456789abcdef',
            document_id: 'docs/guide.md',
            batch_id: 'batch-7',
            phase: 'ingest',
            status: 'succeeded',
            chunk_count: 12,
            content_hash: 'sha256:abc',
            duration_ms: 1235, // INT64 column
            attempt: 2,
            function_name: 'orchestrate',
            correlation_id: 'corr-1',
            occurred_at: '2026-03-01T12:00:00.000Z',
            recorded_at: '2026-03-01T12:00:05.000Z',
          },
        },
      ],
    });
  });

  it('leaves absent optional fields out (NULL) and sends the same insertId on a redelivery', async () => {
    const failed: CompletionRecord = {
      completionId: 'ffff0000ffff0000ffff0000ffff0000',
      documentId: 'd',
      phase: 'ingest',
      status: 'failed',
      errorCode: 'dependency_timeout',
      occurredAt: 0,
    };
    await ledger().record(failed);
    await ledger().record(failed);
    const rows = seen.map((s) => (s.body['rows'] as { insertId: string; json: unknown }[])[0]);
    expect(rows[0]).toEqual(rows[1]);
    expect(rows[0]).toEqual({
      insertId: 'ffff0000ffff0000ffff0000ffff0000',
      json: {
        completion_id: 'ffff0000ffff0000ffff0000ffff0000',
        document_id: 'd',
        phase: 'ingest',
        status: 'failed',
        error_code: 'dependency_timeout',
        occurred_at: '1970-01-01T00:00:00.000Z',
        recorded_at: '2026-03-01T12:00:05.000Z',
      },
    });
  });

  it('retries 500 within bounds, then succeeds', async () => {
    replies = [googleError(500, 'backendError'), googleError(500, 'backendError')];
    const { time, retry } = retrying();
    await ledger({ retry }).record(completion);
    expect(seen.map((s) => s.path)).toEqual([INSERT_PATH, INSERT_PATH, INSERT_PATH]);
    expect(time.sleeps).toEqual([50, 100]); // full jitter at 0.5 of 100, 200
    // Each attempt is the same row: the deterministic insertId lets BigQuery drop a duplicate.
    expect(new Set(seen.map((s) => JSON.stringify(s.body))).size).toBe(1);
  });

  it('honours Retry-After on 429', async () => {
    replies = [googleError(429, 'rateLimitExceeded', { 'retry-after': '3' })];
    const { time, retry } = retrying();
    await ledger({ retry }).record(completion);
    expect(seen).toHaveLength(2);
    expect(time.sleeps).toEqual([3_000]);
  });

  it('dates an HTTP-date Retry-After with its clock (the one that stamps recorded_at)', async () => {
    // ledger()'s clock reads 2026-03-01T12:00:05Z: the hint is 30 s from it.
    replies = [googleError(429, 'rateLimitExceeded', { 'retry-after': 'Sun, 01 Mar 2026 12:00:35 GMT' })];
    const err = await failure(ledger().record(completion));
    expect(err).toMatchObject({ code: 'dependency_unavailable', retryAfterSeconds: 30 });
  });

  it('gives up after the attempt bound with a retryable error that keeps the cause', async () => {
    replies = Array.from({ length: 10 }, () => googleError(503, 'backendError'));
    const { time, retry } = retrying(3);
    const err = await failure(ledger({ retry }).record(completion));
    expect(err).toMatchObject({ code: 'dependency_unavailable', status: 503, retryable: true });
    expect(seen).toHaveLength(3);
    expect(time.sleeps).toHaveLength(2);
    expect((err.cause as { code?: number }).code).toBe(503);
  });

  it('does not retry 400: a permanent error with the cause', async () => {
    replies = [googleError(400, 'invalid')];
    const { time, retry } = retrying();
    const err = await failure(ledger({ retry }).record(completion));
    expect(err).toMatchObject({ code: 'internal', retryable: false });
    expect(err.message).toContain('invalid happened');
    expect((err.cause as { code?: number }).code).toBe(400);
    expect(seen).toHaveLength(1);
    expect(time.sleeps).toEqual([]);
  });

  it.each([
    [404, 'notFound'],
    [403, 'accessDenied'],
  ])('maps %i %s to a permanent config_invalid', async (status, reason) => {
    replies = [googleError(status, reason)];
    const { retry } = retrying();
    const err = await failure(ledger({ retry }).record(completion));
    expect(err).toMatchObject({ code: 'config_invalid', retryable: false, details: { reasons: [reason] } });
    expect(seen).toHaveLength(1);
  });

  it('retries 403 rateLimitExceeded (BigQuery rate limits come as 403)', async () => {
    replies = [googleError(403, 'rateLimitExceeded')];
    const { retry } = retrying();
    await ledger({ retry }).record(completion);
    expect(seen).toHaveLength(2);
  });

  it('treats a row rejected inside a 200 (insertErrors) as permanent, and a stopped/backend one as retryable', async () => {
    const rowError = (reason: string): Reply => ({
      status: 200,
      body: {
        kind: 'bigquery#tableDataInsertAllResponse',
        insertErrors: [{ index: 0, errors: [{ reason, message: `row ${reason}` }] }],
      },
    });
    replies = [rowError('invalid')];
    const permanent = await failure(ledger({ retry: retrying().retry }).record(completion));
    expect(permanent).toMatchObject({
      code: 'internal',
      retryable: false,
      details: { reasons: ['invalid'] },
    });
    expect(seen).toHaveLength(1);

    seen = [];
    replies = [rowError('backendError')];
    await ledger({ retry: retrying().retry }).record(completion);
    expect(seen).toHaveLength(2);
  });
});

describe('reads', () => {
  const recordFields: [string, string][] = [
    ['completion_id', 'STRING'],
    ['document_id', 'STRING'],
    ['batch_id', 'STRING'],
    ['phase', 'STRING'],
    ['status', 'STRING'],
    ['chunk_count', 'INTEGER'],
    ['content_hash', 'STRING'],
    ['duration_ms', 'INTEGER'],
    ['attempt', 'INTEGER'],
    ['error_code', 'STRING'],
    ['function_name', 'STRING'],
    ['correlation_id', 'STRING'],
    ['occurred_at_ms', 'INTEGER'],
  ];
  const row = [
    'c1',
    'docs/guide.md',
    null,
    'ingest',
    'succeeded',
    '12',
    'sha256:abc',
    '1235',
    '2',
    null,
    'orchestrate',
    null,
    '1772366400000',
  ];

  it('get: a parameterized query, TIMESTAMP mapped to epoch ms', async () => {
    queryReply = queryResult(recordFields, [row]);
    const found = await ledger().get("c1' OR '1'='1");
    expect(found).toEqual({
      completionId: 'c1',
      documentId: 'docs/guide.md',
      phase: 'ingest',
      status: 'succeeded',
      chunkCount: 12,
      contentHash: 'sha256:abc',
      durationMs: 1235,
      attempt: 2,
      functionName: 'orchestrate',
      occurredAt: 1772366400000,
    });
    const [q] = seen;
    expect(q?.path).toBe(QUERY_PATH);
    expect(q?.body).toMatchObject({ useLegacySql: false, parameterMode: 'named', location: 'EU' });
    const sql = q?.body['query'] as string;
    expect(sql).toContain('FROM `test-project.graphmill.completions`');
    expect(sql).toContain('WHERE completion_id = @completionId');
    expect(sql).toContain('UNIX_MILLIS(occurred_at) AS occurred_at_ms');
    expect(sql).not.toContain("OR '1'='1"); // the value travels only as a parameter
    expect(queryParams(q)).toEqual({ completionId: { type: 'STRING', value: "c1' OR '1'='1" } });
  });

  it('get: undefined when there is no row', async () => {
    await expect(ledger().get('nope')).resolves.toBeUndefined();
  });

  it('list: every filter is a named parameter; deduplicated by completion_id; ordered', async () => {
    queryReply = queryResult(recordFields, [row]);
    const records = await ledger().list({
      documentId: 'docs/guide.md',
      batchId: 'batch-7',
      phase: 'ingest',
      since: Date.parse('2026-03-01T00:00:00.000Z'),
      until: Date.parse('2026-03-02T00:00:00.000Z'),
      limit: 50,
    });
    expect(records.map((r) => r.completionId)).toEqual(['c1']);
    const [q] = seen;
    const sql = q?.body['query'] as string;
    expect(sql).toContain(
      'WHERE document_id = @documentId AND batch_id = @batchId AND phase = @phase AND occurred_at >= @since AND occurred_at < @until',
    );
    expect(sql).toContain('ROW_NUMBER() OVER (PARTITION BY completion_id ORDER BY recorded_at) AS copy_rank');
    expect(sql).toContain('ORDER BY occurred_at, completion_id');
    expect(sql).toContain('LIMIT @limit');
    expect(queryParams(q)).toEqual({
      documentId: { type: 'STRING', value: 'docs/guide.md' },
      batchId: { type: 'STRING', value: 'batch-7' },
      phase: { type: 'STRING', value: 'ingest' },
      since: { type: 'TIMESTAMP', value: '2026-03-01T00:00:00.000Z' },
      until: { type: 'TIMESTAMP', value: '2026-03-02T00:00:00.000Z' },
      limit: { type: 'INT64', value: 50 },
    });
  });

  it('list: no filter, no parameters; limit 0 asks nothing', async () => {
    await ledger().list();
    expect(seen[0]?.body['query']).toContain('WHERE TRUE');
    expect(seen[0]?.body['queryParameters']).toBeUndefined();
    await expect(ledger().list({ limit: 0 })).resolves.toEqual([]);
    expect(seen).toHaveLength(1);
  });

  it('aggregate: folds from completions with the latest-wins rule', async () => {
    queryReply = queryResult(
      [
        ['document_id', 'STRING'],
        ['phase', 'STRING'],
        ['completions', 'INTEGER'],
        ['first_occurred_at_ms', 'INTEGER'],
        ['status', 'STRING'],
        ['last_completion_id', 'STRING'],
        ['last_occurred_at_ms', 'INTEGER'],
      ],
      [['docs/guide.md', 'ingest', '3', '1000', 'failed', 'c3', '3000']],
    );
    await expect(ledger().aggregate('docs/guide.md', 'ingest')).resolves.toEqual({
      documentId: 'docs/guide.md',
      phase: 'ingest',
      status: 'failed',
      lastCompletionId: 'c3',
      completions: 3,
      firstOccurredAt: 1000,
      lastOccurredAt: 3000,
    });
    const sql = seen[0]?.body['query'] as string;
    expect(sql).toContain('WHERE document_id = @documentId AND phase = @phase');
    expect(sql).toContain('ORDER BY occurred_at DESC, completion_id DESC');
    expect(queryParams(seen[0])).toEqual({
      documentId: { type: 'STRING', value: 'docs/guide.md' },
      phase: { type: 'STRING', value: 'ingest' },
    });
  });

  it('aggregate: undefined for a document without completions', async () => {
    await expect(ledger().aggregate('none', 'ingest')).resolves.toBeUndefined();
  });

  it('a query answered 500 is retried; 400 (invalidQuery) is not', async () => {
    replies = [googleError(500, 'backendError')];
    const { retry } = retrying();
    await ledger({ retry }).get('c1');
    expect(seen.map((s) => s.path)).toEqual([QUERY_PATH, QUERY_PATH]);

    seen = [];
    replies = [googleError(400, 'invalidQuery')];
    const err = await failure(ledger({ retry: retrying().retry }).get('c1'));
    expect(err).toMatchObject({ code: 'internal', retryable: false });
    expect(seen).toHaveLength(1);
  });
});

describe('refreshAggregates (MERGE into document_status)', () => {
  it('sends one parameterized MERGE that reads completions and writes only document_status', async () => {
    queryReply = queryResult([], [], { numDmlAffectedRows: '3' });
    const since = Date.parse('2026-03-01T11:00:00.000Z');
    await expect(ledger().refreshAggregates({ since })).resolves.toEqual({ affectedRows: 3 });

    expect(seen).toHaveLength(1);
    const [q] = seen;
    expect(q?.path).toBe(QUERY_PATH);
    expect(q?.body).toMatchObject({ useLegacySql: false, parameterMode: 'named', location: 'EU' });
    expect(queryParams(q)).toEqual({ since: { type: 'TIMESTAMP', value: '2026-03-01T11:00:00.000Z' } });
    const sql = q?.body['query'] as string;
    expect(sql).not.toContain('2026-03-01'); // no value is concatenated into the SQL
    expect(sql.startsWith('MERGE `test-project.graphmill.document_status` AS target')).toBe(true);
    // The streamed table is only read (touched keys, then their completions, deduplicated)...
    expect(sql).toContain('FROM `test-project.graphmill.completions`\n    WHERE recorded_at >= @since');
    expect(sql).toContain('FROM `test-project.graphmill.completions` AS c');
    expect(sql).toContain(
      'ROW_NUMBER() OVER (PARTITION BY c.completion_id ORDER BY c.recorded_at) AS copy_rank',
    );
    // ...and folded with foldAggregate's rule: count of distinct completions, earliest, latest by time then id.
    expect(sql).toContain('COUNT(*) AS completions');
    expect(sql).toContain('MIN(occurred_at) AS first_occurred_at');
    expect(sql).toContain('ORDER BY occurred_at DESC, completion_id DESC');
    expect(sql).toContain('ON target.document_id = source.document_id AND target.phase = source.phase');
    expect(sql).toContain('WHEN MATCHED AND (');
    expect(sql).toContain('WHEN NOT MATCHED THEN INSERT');
    // Only document_status is a DML target.
    expect(sql.match(/\bMERGE\b|\bUPDATE\b|\bINSERT\b|\bDELETE\b/g)).toEqual(['MERGE', 'UPDATE', 'INSERT']);
    expect(sql).not.toMatch(/(UPDATE|INSERT INTO|DELETE FROM)\s+`[^`]*completions`/);
  });

  it('is retried on 503 and refused on 400', async () => {
    replies = [googleError(503, 'backendError', { 'retry-after': '2' })];
    const { time, retry } = retrying();
    await ledger({ retry }).refreshAggregates({ since: 0 });
    expect(seen).toHaveLength(2);
    expect(time.sleeps).toEqual([2_000]);

    seen = [];
    replies = [googleError(400, 'invalidQuery')];
    await failure(ledger({ retry: retrying().retry }).refreshAggregates({ since: 0 }));
    expect(seen).toHaveLength(1);
  });
});

describe('configuration', () => {
  it('refuses bad dataset and project ids before any request', () => {
    expect(() => new BigQueryCompletionLedger({ dataset: 'x`; DROP' })).toThrow(GraphmillError);
    expect(() => new BigQueryCompletionLedger({ projectId: 'Bad Project' })).toThrow(GraphmillError);
    expect(seen).toEqual([]);
  });

  it('without a projectId, tables are dataset-qualified (resolved in the job project)', async () => {
    const l = new BigQueryCompletionLedger({
      client: () => {
        const { BigQuery } = require('@google-cloud/bigquery') as typeof import('@google-cloud/bigquery');
        return new BigQuery({
          projectId: 'test-project',
          apiEndpoint: endpoint,
          authClient: offlineAuth,
          retryOptions: { autoRetry: false },
        });
      },
      dataset: 'analytics',
    });
    await l.get('c1');
    expect(seen[0]?.body['query']).toContain('FROM `analytics.completions`');
  });

  it('does not load @google-cloud/bigquery until the first call', async () => {
    let loads = 0;
    let pending: Promise<unknown> | undefined;
    jest.isolateModules(() => {
      jest.doMock('@google-cloud/bigquery', () => {
        loads++;
        return jest.requireActual<object>('@google-cloud/bigquery');
      });
      const lazy =
        require('../../../shared/adapters/bigquery/completion-ledger') as typeof import('../../../shared/adapters/bigquery/completion-ledger');
      const l = new lazy.BigQueryCompletionLedger({
        projectId: 'test-project',
        apiEndpoint: endpoint,
        clientOptions: { authClient: offlineAuth },
      });
      expect(loads).toBe(0);
      pending = l.record(completion);
      expect(loads).toBeGreaterThan(0);
    });
    await pending;
    expect(seen.map((s) => s.path)).toEqual([INSERT_PATH]);
  });
});
