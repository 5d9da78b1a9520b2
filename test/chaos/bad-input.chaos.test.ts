/**
 * Bad input: generated malformed and hostile requests (fast-check) against the orchestrate function,
 * through the real functions-framework server (Express, body-parser, graphmill's body-error problems)
 * on 127.0.0.1, wired by loadOrchestrate against the shared test Neo4j, SQLite state, and an https
 * source with an injected resolver and connector.
 *
 * Outcome asserted: no 5xx, no crash (no uncaught exception or unhandled rejection, the server still
 * answers), no write (no node in Neo4j for any id sent, the status store unchanged), and hostile
 * sources registered as documents end `failed` with a permanent error, with no socket ever opened to
 * anything but 127.0.0.1.
 */
import { randomUUID } from 'node:crypto';
import * as dns from 'node:dns';
import { closeSync, constants as fsConstants, mkdtempSync, openSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, deflateSync, brotliCompressSync } from 'node:zlib';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import fc from 'fast-check';
import type { Driver } from 'neo4j-driver';
import { openStateDatabase } from '../../shared/adapters/sqlite/database';
import { SqliteStatusStore } from '../../shared/adapters/sqlite/status-store';
import { makeHttpsSource } from '../../shared/adapters/https/source';
import { installBodyErrorProblems } from '../../shared/http/body-errors';
import type { LoadedHttpFunction } from '../../shared/runtime/lazy';
import type { DocumentRecord } from '../../shared/status/types';
import { loadOrchestrate } from '../../functions/orchestrate/wiring';
import { OutputCapture, scanForSecrets, leakFigures } from './support/capture';
import {
  fileSources,
  sendStreamedBody,
  startEgress,
  SSRF_SOURCES,
  type Egress,
  type HostileSource,
} from './support/hostile';
import { adminDriver, sharedNeo4j } from './support/neo4j-servers';
import { localEnv } from './support/pipeline';
import { recordFigures } from './support/results';
import { chaosScale } from './support/scale';
import { chaosAlerter, chaosSecrets, startSlackReceiver, type SlackReceiver } from './support/slack';

const scale = chaosScale();
const run = randomUUID().slice(0, 8);
const PREFIX = `chaos-bad-${run}`;
const MAX_DOCUMENT_BYTES = 1_000_000;
const LOOPBACK = new Set(['127.0.0.1', '::1']);

const capture = new OutputCapture();
const crashes: string[] = [];
const tripwire: string[] = [];
let loopbackSockets = 0;
const onUncaught = (err: Error) => crashes.push(`uncaughtException: ${err.message}`);
const onUnhandled = (reason: unknown) => crashes.push(`unhandledRejection: ${String(reason)}`);

let dir: string;
let slack: SlackReceiver;
let egress: Egress;
let admin: Driver;
let fn: LoadedHttpFunction;
let server: http.Server;
let port: number;
let status: SqliteStatusStore;
let fifoPath: string | undefined;
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

beforeAll(async () => {
  capture.captureProcessStreams();
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);
  // Tripwires: a socket to anything but loopback, or a real DNS lookup, fails before a packet is sent.
  const realConnect = net.Socket.prototype.connect;
  jest.spyOn(net.Socket.prototype, 'connect').mockImplementation(function (
    this: net.Socket,
    ...args: unknown[]
  ) {
    const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    const opts =
      typeof first === 'object' && first !== null ? (first as { host?: string; path?: string }) : {};
    const host =
      opts.path !== undefined ? 'unix' : (opts.host ?? (typeof args[1] === 'string' ? args[1] : undefined));
    if (host !== 'unix' && (host === undefined || !LOOPBACK.has(host))) {
      tripwire.push(`socket connect to ${String(host)}`);
      throw new Error(`tripwire: socket connect to ${String(host)} refused`);
    }
    loopbackSockets++;
    return (realConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  });
  jest.spyOn(dns.promises, 'lookup').mockImplementation((hostname: string) => {
    tripwire.push(`dns lookup of ${hostname}`);
    return Promise.reject(new Error(`tripwire: real DNS lookup of ${hostname}`));
  });

  dir = mkdtempSync(join(tmpdir(), 'graphmill-chaos-bad-'));
  slack = await startSlackReceiver();
  egress = await startEgress();
  const conn = sharedNeo4j();
  admin = adminDriver(conn);
  const secrets = chaosSecrets({ neo4jPassword: conn.password, webhookUrl: slack.url });
  const alertLogger = capture.logger('info', { suite: 'bad-input', component: 'alerter' });
  fn = await loadOrchestrate(
    localEnv({
      stateDir: join(dir, 'state'),
      neo4j: conn,
      extra: {
        GRAPHMILL_FILE_ROOT: join(dir, 'root'),
        MAX_DOCUMENT_BYTES: String(MAX_DOCUMENT_BYTES),
        FETCH_TIMEOUT_MS: '3000',
        NEO4J_MAX_POOL_SIZE: '4',
      },
    }),
    {
      secrets,
      alerter: chaosAlerter(secrets, alertLogger),
      sources: [
        makeHttpsSource({
          resolve: egress.resolve,
          connect: egress.connect,
          timeoutMs: 3000,
          connectTimeoutMs: 1000,
        }),
      ],
    },
  );
  installBodyErrorProblems();
  functions.http('orchestrate-chaos-bad-input', (req, res) => fn.handle(req, res));
  server = getTestServer('orchestrate-chaos-bad-input');
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  port = (server.address() as net.AddressInfo).port;
  status = new SqliteStatusStore(openStateDatabase(join(dir, 'state')));
}, 120_000);

afterAll(async () => {
  if (fifoPath) releaseFifo(fifoPath);
  agent.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await fn.close();
  await status.close();
  await admin.executeQuery(
    'MATCH (n) WHERE (n:Document AND n.id STARTS WITH $p) OR (n:Chunk AND n.documentId STARTS WITH $p) DETACH DELETE n',
    { p: PREFIX },
  );
  await admin.close();
  await egress.close();
  await slack.close();
  rmSync(dir, { recursive: true, force: true });
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUnhandled);
  jest.restoreAllMocks();
  capture.restore();
  capture.dumpIfAsked('bad-input');
}, 120_000);

/** Lets a FIFO reader blocked in open(2) go (a writer opens and closes at once). */
function releaseFifo(path: string): void {
  try {
    closeSync(openSync(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
  } catch {
    // No reader is waiting: nothing to release.
  }
}

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  label: string;
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
  ms: number;
}

function send(req: Sent, timeoutMs = 30_000): Promise<Answer> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.path,
        headers: { ...req.headers, ...(req.body ? { 'content-length': String(req.body.length) } : {}) },
        agent,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 65_536) chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks).toString('utf8'),
            ms: Date.now() - t0,
          }),
        );
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    r.on('error', reject);
    r.end(req.body);
  });
}

const json = (value: unknown): Sent => ({
  method: 'POST',
  path: '/',
  headers: { 'content-type': 'application/json' },
  body: Buffer.from(JSON.stringify(value)),
  label: 'json',
});

// ---------------------------------------------------------------------------------------------------------
// The generated requests

const big = (n: number) => 'a'.repeat(n);
const INJECTION_IDS = [
  "x' OR 1=1 //",
  "'}) MATCH (n) DETACH DELETE n //",
  '"}) DETACH DELETE n WITH 1 AS x MATCH (m) RETURN m //',
  '`; DROP CONSTRAINT graphmill_document_id',
  'a}) CALL dbms.killConnections([]) //',
  '$id',
  '{id}',
  '\\u0027 OR 1=1',
  'MATCH (n) RETURN n',
  'x:Document/@d-1.md',
  'MATCH/DETACH/DELETE',
  'id:1/../../n',
  '../../../etc/passwd',
  '..',
  '.',
  '/',
  '//etc//passwd',
  'file:///etc/passwd',
  'https://169.254.169.254/latest/meta-data/',
  'gs://bucket/../../x',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  'a\u0000b',
  'a\nb',
  '\u202eevil',
  '😀😀',
  '\ud800',
  'constructor',
  '__proto__',
  'toString',
  big(256),
  big(257),
  big(10_000),
  big(70_000),
];
const ACTIONS = ['process_document', 'reprocess_document', 'delete_document', 'submit_batch'];

const idArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...INJECTION_IDS) },
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:@/-]{1,80}$/) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)) },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }) },
  {
    weight: 1,
    arbitrary: fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  },
);
const actionArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ACTIONS) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('PROCESS_DOCUMENT', 'process_document ', '', 'drop_database', 'delete'),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.constant(null), fc.constant([])),
  },
);
const objectBodyArb = fc
  .record(
    {
      document_id: idArb,
      documentId: idArb,
      action: actionArb,
      batch_id: idArb,
      document_ids: fc.oneof(fc.array(idArb, { maxLength: 6 }), idArb),
      deadline_seconds: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 5 })),
      correlation_id: fc.oneof(fc.string({ maxLength: 200 }), fc.constant(big(5000))),
      extra: fc.jsonValue({ maxDepth: 3 }),
    },
    { requiredKeys: [] },
  )
  .map((o) => Buffer.from(JSON.stringify(o)));

const RAW_BODIES = [
  '',
  ' ',
  '{',
  '}',
  '{"document_id":',
  '{"document_id": "a",}',
  "{'document_id': 'a'}",
  '{"document_id": NaN}',
  '{"document_id": Infinity}',
  '/* c */ {"document_id":"a"}',
  '\uFEFF{"document_id":"a"}',
  '{"document_id":"a"}{"document_id":"b"}',
  '{"document_id":"a","document_id":"b"}',
  'null',
  'true',
  '1e999',
  '"process_document"',
  '[]',
  '[{"document_id":"a"}]',
  '{"__proto__":{"polluted":"yes"},"document_id":"a"}',
  '{"constructor":{"prototype":{"polluted":"yes"}},"document_id":"a"}',
  '{"document_id":{"__proto__":{"polluted":"yes"}}}',
  '{"action":"submit_batch","batch_id":"b","document_ids":[' +
    Array.from({ length: 2000 }, (_, i) => `"d${i}"`).join(',') +
    ']}',
  '{"action":"submit_batch","batch_id":"b","document_ids":[],"deadline_seconds":1e308}',
  '{"document_id":"\\ud800"}',
  '{"document_id":"\\u0000"}',
];
const INVALID_UTF8 = [
  [0xff],
  [0xc3, 0x28],
  [0xa0, 0xa1],
  [0xe2, 0x28, 0xa1],
  [0xf0, 0x28, 0x8c, 0x28],
  [0xc0, 0xaf], // overlong "/"
  [0xed, 0xa0, 0x80], // CESU-8 surrogate
  [0xf8, 0x88, 0x80, 0x80, 0x80],
].map((b) => Buffer.from(b));

const rawBodyArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...RAW_BODIES).map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom(...INVALID_UTF8), fc.constantFrom('document_id', 'action', 'x'))
      .map(([bad, key]) => Buffer.concat([Buffer.from(`{"${key}":"`), bad, Buffer.from('"}')])),
  },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 50, max: 40_000 }), fc.boolean())
      .map(([n, arr]) =>
        Buffer.from(arr ? `${'['.repeat(n)}${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(1_000, 65_000, 70_000, 1_000_000, 3_000_000)
      .map((n) => Buffer.from(`{"document_id":"${big(n)}"}`)),
  },
);

const contentTypeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'application/json; charset=bogus',
      'application/JSON',
      'application/problem+json',
      'application/cloudevents+json',
      'text/plain',
      'text/html',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      '',
      '*/*',
      'application/json, text/plain',
    ),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z/+;= -]{0,40}$/) },
);

type Encoding = 'none' | 'gzip' | 'gzip-invalid' | 'deflate' | 'br' | 'zstd-invalid' | 'unknown' | 'bomb';
const encodingArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Encoding>('none') },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Encoding>('gzip', 'gzip-invalid', 'deflate', 'br', 'zstd-invalid', 'unknown'),
  },
);

const headerValueArb = fc.oneof(
  fc.stringMatching(/^[\x21-\x7e]{0,80}$/),
  fc.constantFrom(big(8000), '00-zz-00-01', '0af7651916cd43dd8448eb211c80319c/1;o=1', '../../etc'),
);

const requestArb: fc.Arbitrary<Sent> = fc
  .record({
    method: fc.oneof(
      { weight: 12, arbitrary: fc.constant('POST') },
      { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') },
    ),
    path: fc.oneof(
      { weight: 8, arbitrary: fc.constant('/') },
      {
        weight: 1,
        arbitrary: fc.constantFrom('/x', '/../../etc/passwd', '/?document_id=x', '/%2e%2e/', '/orchestrate'),
      },
    ),
    contentType: contentTypeArb,
    encoding: encodingArb,
    body: fc.oneof({ weight: 3, arbitrary: objectBodyArb }, { weight: 2, arbitrary: rawBodyArb }),
    requestId: fc.option(headerValueArb, { nil: undefined }),
    trace: fc.option(headerValueArb, { nil: undefined }),
  })
  .map((r) => {
    let body = r.body;
    const headers: Record<string, string> = {};
    if (r.contentType !== '') headers['content-type'] = r.contentType;
    if (r.requestId !== undefined) headers['x-request-id'] = r.requestId;
    if (r.trace !== undefined) headers['traceparent'] = r.trace;
    switch (r.encoding) {
      case 'gzip':
        body = gzipSync(body);
        headers['content-encoding'] = 'gzip';
        break;
      case 'gzip-invalid':
        headers['content-encoding'] = 'gzip';
        break;
      case 'deflate':
        body = deflateSync(body);
        headers['content-encoding'] = 'deflate';
        break;
      case 'br':
        body = brotliCompressSync(body);
        headers['content-encoding'] = 'br';
        break;
      case 'zstd-invalid':
        headers['content-encoding'] = 'zstd';
        break;
      case 'unknown':
        headers['content-encoding'] = 'x-evil';
        break;
      default:
        break;
    }
    return {
      method: r.method,
      path: r.path,
      headers,
      body,
      label: `${r.method} ${r.contentType} ${r.encoding}`,
    };
  });

/** Every string a request carried as a document or batch id, for the "no write" check. */
function idsIn(req: Sent): string[] {
  const out: string[] = [];
  if (!req.body || req.headers['content-encoding']) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.body.toString('utf8'));
  } catch {
    return out;
  }
  if (typeof parsed !== 'object' || parsed === null) return out;
  const o = parsed as Record<string, unknown>;
  for (const k of ['document_id', 'documentId', 'batch_id', 'batchId'])
    if (typeof o[k] === 'string') out.push(o[k]);
  for (const k of ['document_ids', 'documentIds']) {
    const v = o[k];
    if (Array.isArray(v)) for (const x of v) if (typeof x === 'string') out.push(x);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------

it(`${scale.fuzzedRequests} generated malformed and hostile requests: no 5xx, no crash, no write; hostile sources fail permanently without leaving loopback`, async () => {
  const findings: string[] = [];
  const responses: string[] = [];
  const root = join(dir, 'root');
  const outside = mkdtempSync(join(tmpdir(), 'graphmill-chaos-outside-'));
  const hostile: HostileSource[] = [...fileSources(root, outside, MAX_DOCUMENT_BYTES), ...SSRF_SOURCES];
  fifoPath = hostile.some((h) => h.name === 'fifo') ? join(root, 'fifo') : undefined;

  // 1. Hostile sources registered as documents: each one is processed and must fail permanently.
  const control = `${PREFIX}/control.md`;
  await status.register(
    { id: control, source: 'inline:', content: 'A control document. It proves the function works.' },
    Date.now(),
  );
  const hostileResults: {
    name: string;
    http: number;
    status: string;
    code: string;
    retryable: boolean | undefined;
    ms: number;
  }[] = [];
  for (const h of hostile) {
    const id = `${PREFIX}/hostile/${h.name}`;
    await status.register({ id, source: h.source }, Date.now());
    let answer: Answer;
    try {
      if (h.name === 'fifo') {
        // Bounded: if the read blocks, the writer end is opened after 5 s to let it go.
        const release = setTimeout(() => releaseFifo(join(root, 'fifo')), 5000);
        answer = await send(json({ document_id: id, action: 'process_document' }), 20_000);
        clearTimeout(release);
      } else {
        answer = await send(json({ document_id: id, action: 'process_document' }));
      }
    } catch (err) {
      findings.push(`hostile ${h.name}: no answer (${(err as Error).message})`);
      continue;
    }
    responses.push(answer.body);
    const rec = await status.get(id);
    const result = {
      name: h.name,
      http: answer.status,
      status: rec?.status ?? 'missing',
      code: rec?.error?.code ?? '',
      retryable: rec?.error?.retryable,
      ms: answer.ms,
    };
    hostileResults.push(result);
    const permanent = rec?.status === 'failed' && rec.error !== undefined && !rec.error.retryable;
    if (answer.status >= 500 || answer.status < 400 || !permanent) {
      findings.push(
        `hostile ${h.name} (${h.source}): HTTP ${answer.status}, status ${result.status} ${result.code} retryable=${String(result.retryable)} after ${answer.ms} ms`,
      );
    }
  }

  // 2. A decompression bomb: 64 MiB of spaces in a 64 KiB gzip body. It must be refused (415) without being
  //    inflated; the time and memory it cost are recorded.
  const bombBody = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
  const rssBefore = process.memoryUsage().rss;
  const bomb = await send({
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: bombBody,
    label: 'gzip bomb',
  });
  const bombFigures = {
    compressedBytes: bombBody.length,
    inflatedBytes: 64 * 1024 * 1024,
    http: bomb.status,
    ms: bomb.ms,
    rssGrowthMb: Math.round((process.memoryUsage().rss - rssBefore) / 1_048_576),
  };
  // Refused on its Content-Encoding before anything is read or inflated.
  if (bomb.status !== 415) findings.push(`gzip bomb: HTTP ${bomb.status}, expected 415 before inflating`);

  // 2b. 300 MB chunked (no Content-Length), as fast as loopback takes it, as each content type the
  //     framework's parsers accept: refused once past MAX_REQUEST_BYTES, with the memory it cost.
  const chunkedUploads: Record<string, unknown>[] = [];
  for (const contentType of ['application/json', 'text/plain', 'application/octet-stream']) {
    const rssStart = process.memoryUsage().rss;
    const upload = await sendStreamedBody({
      port,
      headers: { 'content-type': contentType },
      totalBytes: 300 * 1024 * 1024,
    });
    const rssGrowthMb = Math.round((process.memoryUsage().rss - rssStart) / 1_048_576);
    chunkedUploads.push({
      contentType,
      http: upload.status,
      sentAtAnswerBytes: upload.sentAtAnswer,
      ms: upload.ms,
      rssGrowthMb,
    });
    if (upload.status !== 413 || !upload.contentType.startsWith('application/problem+json'))
      findings.push(`300 MB chunked ${contentType}: HTTP ${upload.status} ${upload.contentType}`);
    if (upload.sentAtAnswer > 64 * 1024 * 1024 || rssGrowthMb > 100)
      findings.push(
        `300 MB chunked ${contentType}: answered after ${upload.sentAtAnswer} bytes sent, RSS +${rssGrowthMb} MB`,
      );
  }

  // 2c. Amplification: 10,000 invalid ids in a 40 KB body; the answer and the log line stay small.
  const logBefore = capture.text().length;
  const manyInvalid = await send(
    json({ action: 'submit_batch', batch_id: `${PREFIX}-b`, document_ids: Array(10_000).fill('!') }),
  );
  const logLines = capture.text().slice(logBefore).split('\n');
  const amplification = {
    requestBytes: JSON.stringify({ action: 'submit_batch', document_ids: Array(10_000).fill('!') }).length,
    http: manyInvalid.status,
    answerBytes: Buffer.byteLength(manyInvalid.body),
    longestLogLineBytes: Math.max(0, ...logLines.map((l) => Buffer.byteLength(l))),
  };
  if (
    manyInvalid.status !== 400 ||
    amplification.answerBytes > 8192 ||
    amplification.longestLogLineBytes > 8192
  ) {
    findings.push(`10,000 invalid ids: ${JSON.stringify(amplification)}`);
  }

  // 3. The generated requests. The status store must not change under them.
  const before = snapshot(await status.list());
  const counts: Record<string, number> = {};
  const fiveHundreds: string[] = [];
  const notProblemJson: string[] = [];
  const noAnswer: string[] = [];
  const sentIds = new Set<string>();
  let sent = 0;
  const latencies: number[] = [];
  const registered = new Set([control, ...hostile.map((h) => `${PREFIX}/hostile/${h.name}`)]);
  const t0 = Date.now();
  let property: string | undefined;
  try {
    await fc.assert(
      fc.asyncProperty(requestArb, async (req) => {
        for (const id of idsIn(req)) {
          if (registered.has(id)) return true; // never aim the fuzz at the documents registered above
          sentIds.add(id);
        }
        sent++;
        let answer: Answer;
        try {
          answer = await send(req);
        } catch (err) {
          noAnswer.push(`${req.label}: ${(err as Error).message}`);
          return true; // counted; the run goes on so the figures cover every request
        }
        latencies.push(answer.ms);
        counts[answer.status] = (counts[answer.status] ?? 0) + 1;
        responses.push(answer.body);
        if (answer.status >= 500) {
          fiveHundreds.push(
            `${answer.status} for ${req.label} body=${(req.body ?? Buffer.alloc(0)).subarray(0, 120).toString('latin1')}: ${answer.body.slice(0, 200)}`,
          );
        }
        if (
          answer.status >= 400 &&
          req.method !== 'HEAD' &&
          !answer.contentType.startsWith('application/problem+json')
        ) {
          notProblemJson.push(
            `${answer.status} ${answer.contentType || '(none)'} for Content-Encoding ${req.headers['content-encoding'] ?? 'none'}`,
          );
        }
        return true;
      }),
      { numRuns: scale.fuzzedRequests, seed: 0x8ad },
    );
  } catch (err) {
    property = (err as Error).message.split('\n').slice(0, 6).join(' | ');
  }
  const fuzzMs = Date.now() - t0;
  const after = snapshot(await status.list());

  // 4. Still alive, and the control document still works.
  const alive = await send(json({ document_id: control, action: 'process_document' }));

  // 5. No write: no node for any id sent, none for the hostile documents; the status store unchanged.
  const idList = [...sentIds, ...hostile.map((h) => `${PREFIX}/hostile/${h.name}`)];
  const nodes = await admin.executeQuery(
    'MATCH (n) WHERE (n:Document AND n.id IN $ids) OR (n:Chunk AND n.documentId IN $ids) RETURN count(n) AS n',
    { ids: idList },
  );
  const nodesForIds = Number(nodes.records[0]?.get('n') ?? 0);
  const statusChanged = diffSnapshots(before, after);
  const polluted = ({} as Record<string, unknown>)['polluted'] !== undefined;

  if (property !== undefined) findings.push(`property failed: ${property}`);
  if (fiveHundreds.length > 0) findings.push(`5xx: ${fiveHundreds.slice(0, 5).join(' || ')}`);
  if (noAnswer.length > 0) findings.push(`no answer: ${noAnswer.slice(0, 5).join(' || ')}`);
  if (notProblemJson.length > 0)
    findings.push(
      `${notProblemJson.length} errors not problem+json, e.g. ${notProblemJson.slice(0, 3).join(' || ')}`,
    );
  if (crashes.length > 0) findings.push(`crashes: ${crashes.slice(0, 5).join(' || ')}`);
  if (tripwire.length > 0) findings.push(`tripwire: ${tripwire.slice(0, 5).join(' || ')}`);
  if (egress.violations.length > 0)
    findings.push(`connector asked for ${egress.violations.map((t) => `${t.address}:${t.port}`).join(', ')}`);
  if (alive.status !== 200) findings.push(`control document after the fuzz: HTTP ${alive.status}`);
  if (nodesForIds > 0) findings.push(`${nodesForIds} Neo4j nodes for fuzzed or hostile ids`);
  if (statusChanged.length > 0)
    findings.push(`status store changed under the fuzz: ${statusChanged.slice(0, 5).join(', ')}`);
  if (polluted) findings.push('Object.prototype polluted');

  const leaks = scanForSecrets([capture.text(), ...responses, ...slack.bodies].join('\n'), {
    neo4jPassword: sharedNeo4j().password,
    slackWebhookUrl: slack.url,
  });
  if (leaks.occurrences > 0) findings.push(`secrets leaked: ${JSON.stringify(leaks.leaks)}`);
  if (!leaks.scannerVerified) findings.push('the leak scanner failed its self-test');
  rmSync(outside, { recursive: true, force: true });

  latencies.sort((a, b) => a - b);
  recordFigures('bad-input', {
    requestsFuzzed: sent,
    fuzzMs,
    byStatus: counts,
    fiveHundreds: fiveHundreds.length,
    noAnswer: noAnswer.length,
    notProblemJson: notProblemJson.length,
    notProblemJsonByRequest: tally(notProblemJson),
    p50Ms: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    crashes: crashes.length,
    gzipBomb: bombFigures,
    chunkedUploads,
    amplification,
    distinctIdsSent: sentIds.size,
    nodesForIds,
    statusRecordsChanged: statusChanged.length,
    hostileSources: hostileResults.length,
    hostileFailedPermanently: hostileResults.filter((r) => r.status === 'failed' && r.retryable === false)
      .length,
    hostileByCode: tally(hostileResults.map((r) => `${r.http} ${r.code}`)),
    hostile: hostileResults,
    egress: {
      namesResolved: egress.resolved.length,
      connectorTargets: egress.targets.length,
      offLoopbackTargets: egress.violations.length,
      socketsOpened: egress.socketsOpened.length,
      loopbackSocketsTotal: loopbackSockets,
      tripwire: tripwire.length,
    },
    leaks: leakFigures(leaks),
    findings,
  });

  expect(sent).toBeGreaterThanOrEqual(scale.fuzzedRequests);
  expect(findings).toEqual([]);
});

function snapshot(records: readonly DocumentRecord[]): Map<string, string> {
  return new Map(records.map((r) => [r.id, JSON.stringify(r)]));
}

function diffSnapshots(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [id, v] of b) if (a.get(id) !== v) out.push(a.has(id) ? `changed ${id}` : `added ${id}`);
  for (const id of a.keys()) if (!b.has(id)) out.push(`removed ${id}`);
  return out;
}

function tally(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
