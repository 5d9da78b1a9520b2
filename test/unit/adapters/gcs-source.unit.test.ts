/**
 * The real @google-cloud/storage client against a local server speaking the JSON API (object metadata GET
 * and the `alt=media` download). A custom `apiEndpoint` makes the client skip authentication, so nothing
 * but 127.0.0.1 is ever contacted.
 */
/**
 * The client's HTTP transport, teeny-request, loads node-fetch (ESM only) with a dynamic `import()`, which
 * jest's module sandbox refuses without --experimental-vm-modules. So teeny-request alone is loaded by
 * Node's own loader (reached through the host realm's `process`, since jest wraps the sandbox's), where
 * that import works; everything above it (retry-request, the Storage client, the adapter) runs in jest as
 * usual. The bytes on the wire are the real client's.
 */
jest.mock('teeny-request', () => {
  // Buffer is the host realm's, so its constructor's constructor is the host's Function.
  const hostProcess = (Buffer.constructor as FunctionConstructor)('return process') as () => NodeJS.Process;
  return hostProcess().getBuiltinModule('node:module').createRequire(__filename)('teeny-request') as unknown;
});

import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { CRC32C } from '@google-cloud/storage';
import { makeGcsSource, parseGsUrl, type GcsSourceOptions } from '../../../shared/adapters/storage/source';
import { GraphmillError } from '../../../shared/errors';
import { makeRetry } from '../../../shared/resilience/policies';
import { fixedRandom, makeFakeTime } from '../../../shared/resilience/testing';
import type { DocumentRecord } from '../../../shared/status/types';
import { installLoopbackTripwire } from '../../support/loopback-tripwire';

// ---------------------------------------------------------------------------------------------------------
// Loopback only: no proxy, and a tripwire that fails the suite if anything dials another address.

const tripwire = installLoopbackTripwire();

// ---------------------------------------------------------------------------------------------------------
// A fake Cloud Storage JSON API

interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
}

interface FakeObject {
  /** What the metadata says. */
  readonly size: number;
  readonly generation?: string;
  readonly body?: Buffer;
  /** Streams this many bytes regardless of `size` (a body larger than its metadata). */
  readonly streamBytes?: number;
  readonly gzip?: boolean;
  /** Answers to the metadata GET before the real one, in order. */
  readonly metadataFailures?: { status: number; headers?: Record<string, string> }[];
  readonly mediaStatus?: number;
}

let objects: Map<string, FakeObject>;
let seen: SeenRequest[];
let streamed: number;
let server: http.Server;
let endpoint: string;
const sockets = new Set<Socket>();

const jsonError = (res: http.ServerResponse, status: number, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { code: status, message: `status ${status}`, errors: [] } }));
};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    seen.push({
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
    });
    const match = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    const object = match ? objects.get(`${match[1]}/${decodeURIComponent(match[2] ?? '')}`) : undefined;
    if (!match || !object) return jsonError(res, 404);

    if (url.searchParams.get('alt') !== 'media') {
      const failure = object.metadataFailures?.shift();
      if (failure) return jsonError(res, failure.status, failure.headers);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({
          bucket: match[1],
          name: decodeURIComponent(match[2] ?? ''),
          size: String(object.size),
          generation: object.generation ?? '1700000000000001',
          contentType: 'text/plain',
        }),
      );
    }

    if (object.mediaStatus) return jsonError(res, object.mediaStatus);
    if (object.body) {
      // As GCS does: the stored bytes' checksums, so the client's CRC32C validation runs.
      const crc = new CRC32C();
      crc.update(object.body);
      const crc32c = crc.toString();
      const md5 = createHash('md5').update(object.body).digest('base64');
      res.writeHead(200, {
        'content-type': 'text/plain',
        'x-goog-hash': `crc32c=${crc32c},md5=${md5}`,
        ...(object.gzip
          ? { 'content-encoding': 'gzip', 'x-goog-stored-content-encoding': 'gzip' }
          : { 'x-goog-stored-content-encoding': 'identity' }),
      });
      return res.end(object.body);
    }
    // A body that keeps coming: count what was actually sent before the client hung up.
    const limit = object.streamBytes ?? 0;
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    res.writeHead(200, { 'content-type': 'text/plain' });
    const pump = (): void => {
      while (streamed < limit && !res.destroyed) {
        streamed += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
  streamed = 0;
  objects = new Map<string, FakeObject>([
    ['docs/small.txt', { size: 11, generation: '42', body: Buffer.from('hello world') }],
    ['docs/dir/with space.txt', { size: 2, body: Buffer.from('ok') }],
    ['docs/big.txt', { size: 50_000_000 }],
    ['docs/liar.txt', { size: 10, streamBytes: 64 * 1024 * 1024 }],
    ['docs/bomb.txt', { size: 2_000, gzip: true, body: gzipSync(Buffer.alloc(1_000_000, 0x61)) }],
    ['docs/replaced.txt', { size: 5, mediaStatus: 404 }],
    ['docs/denied.txt', { size: 5, metadataFailures: [{ status: 403 }] }],
    [
      'docs/flaky.txt',
      {
        size: 2,
        body: Buffer.from('ok'),
        metadataFailures: [{ status: 503, headers: { 'retry-after': '2' } }, { status: 429 }],
      },
    ],
    ['docs/broken.txt', { size: 2, metadataFailures: [{ status: 500 }, { status: 500 }, { status: 500 }] }],
  ]);
});

const record = (source: string): DocumentRecord => ({
  id: 'doc-1',
  source,
  status: 'processing',
  attempt: 1,
  createdAt: 0,
  updatedAt: 0,
});

function source(extra: Partial<GcsSourceOptions> = {}) {
  return makeGcsSource({ projectId: 'test-project', apiEndpoint: endpoint, ...extra });
}

async function refusal(promise: Promise<Uint8Array>): Promise<GraphmillError> {
  const err: unknown = await promise.then(
    (bytes) => new Error(`expected a refusal, got ${bytes.byteLength} bytes`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GraphmillError);
  return err as GraphmillError;
}

const media = (): SeenRequest[] => seen.filter((r) => r.query.get('alt') === 'media');

it('reads an object: metadata first, then the media download pinned to that generation', async () => {
  const bytes = await source().fetch(record('gs://docs/small.txt'), { maxBytes: 1000 });
  expect(Buffer.from(bytes).toString()).toBe('hello world');
  expect(tripwire.loopbackConnects()).toBeGreaterThan(0); // the tripwire sits on the client's real path
  expect(seen.map((r) => [r.method, r.path, r.query.get('alt')])).toEqual([
    ['GET', '/storage/v1/b/docs/o/small.txt', null],
    ['GET', '/storage/v1/b/docs/o/small.txt', 'media'],
  ]);
  const download = media()[0];
  expect(download?.query.get('generation')).toBe('42');
  // The whole object, streamed (no Range: a ranged read would lose the client's CRC32C check).
  expect(download?.headers.range).toBeUndefined();
  expect(download?.headers.authorization).toBeUndefined();
});

it('encodes object names with slashes and spaces', async () => {
  const bytes = await source().fetch(record('gs://docs/dir/with space.txt'), { maxBytes: 10 });
  expect(Buffer.from(bytes).toString()).toBe('ok');
  expect(seen[0]?.path).toBe('/storage/v1/b/docs/o/dir%2Fwith%20space.txt');
});

it('refuses an object above the limit after the metadata request alone', async () => {
  const err = await refusal(source().fetch(record('gs://docs/big.txt'), { maxBytes: 1_000_000 }));
  expect(err).toMatchObject({ code: 'content_too_large', status: 413, retryable: false });
  expect(err.message).toContain('50000000 bytes');
  expect(seen).toHaveLength(1);
  expect(media()).toEqual([]);
});

it('cuts off a body larger than its metadata said, without reading it whole', async () => {
  const err = await refusal(source().fetch(record('gs://docs/liar.txt'), { maxBytes: 100_000 }));
  expect(err).toMatchObject({ code: 'content_too_large', status: 413, retryable: false });
  expect(media()).toHaveLength(1);
  expect(streamed).toBeLessThan(64 * 1024 * 1024);
});

it('counts bytes after gzip decoding (a small stored object that inflates past the limit)', async () => {
  const err = await refusal(source().fetch(record('gs://docs/bomb.txt'), { maxBytes: 100_000 }));
  expect(err).toMatchObject({ code: 'content_too_large', status: 413 });
});

it('maps a missing object to a permanent not_found', async () => {
  const err = await refusal(source().fetch(record('gs://docs/missing.txt'), { maxBytes: 10 }));
  expect(err).toMatchObject({ code: 'not_found', status: 404, retryable: false });
  expect(media()).toEqual([]);
});

it('maps a pinned generation that vanished to a retryable error', async () => {
  const err = await refusal(source().fetch(record('gs://docs/replaced.txt'), { maxBytes: 10 }));
  expect(err).toMatchObject({ code: 'dependency_unavailable', retryable: true });
});

it('maps 403 to a permanent source_forbidden', async () => {
  const err = await refusal(source().fetch(record('gs://docs/denied.txt'), { maxBytes: 10 }));
  expect(err).toMatchObject({ code: 'source_forbidden', status: 422, retryable: false });
});

it('refuses a bucket outside the allow-list with no request made', async () => {
  const err = await refusal(
    source({ allowedBuckets: ['docs'] }).fetch(record('gs://other-bucket/x.txt'), { maxBytes: 10 }),
  );
  expect(err).toMatchObject({ code: 'source_forbidden', status: 422, retryable: false });
  expect(err.message).toContain('"other-bucket"');
  expect(seen).toEqual([]);
  // The allowed bucket still works.
  await expect(
    source({ allowedBuckets: ['docs'] }).fetch(record('gs://docs/small.txt'), { maxBytes: 100 }),
  ).resolves.toHaveLength(11);
});

it('refuses malformed gs:// URLs', () => {
  expect(() => parseGsUrl('gs://bucket-only', 'd')).toThrow(GraphmillError);
  expect(() => parseGsUrl('gs:///object', 'd')).toThrow(GraphmillError);
  expect(parseGsUrl('gs://Docs/a/b?c#d', 'd')).toEqual({ bucket: 'docs', object: 'a/b?c#d' });
});

it('refuses credentials in a gs:// URL and never repeats them, nor a long source', () => {
  const refusal = (source: string): GraphmillError => {
    try {
      parseGsUrl(source, 'd');
    } catch (err) {
      return err as GraphmillError;
    }
    throw new Error(`${source} was accepted`);
  };
  const withUserinfo = refusal('gs://someone:hunter2-secret@docs/a.txt');
  expect(withUserinfo.code).toBe('source_forbidden');
  expect(withUserinfo.message).not.toContain('hunter2-secret');
  const malformed = refusal('gs://docs?X-Goog-Signature=abcdef0123456789');
  expect(malformed.message).not.toContain('abcdef0123456789');
  expect(refusal(`gs://${'x'.repeat(100_000)}`).message.length).toBeLessThan(400);
});

describe('with a bounded retry (fake time)', () => {
  function retrying(maxAttempts: number) {
    const time = makeFakeTime(1_000_000);
    const policy = makeRetry({
      name: 'gcs',
      maxAttempts,
      initialDelayMs: 100,
      maxDelayMs: 5_000,
      maxTotalMs: 30_000,
      ...time,
      random: fixedRandom(0.5),
    });
    return { time, retry: <T>(fn: () => Promise<T>) => policy.execute(() => fn()) };
  }

  it('retries 503 (honouring Retry-After) and 429, then reads', async () => {
    const { time, retry } = retrying(4);
    const bytes = await source({ retry }).fetch(record('gs://docs/flaky.txt'), { maxBytes: 10 });
    expect(Buffer.from(bytes).toString()).toBe('ok');
    expect(seen.filter((r) => r.query.get('alt') !== 'media')).toHaveLength(3);
    expect(time.sleeps).toEqual([2_000, 100]); // Retry-After: 2, then jittered backoff (0.5 * 200)
  });

  it('gives up after the attempt bound with a retryable error', async () => {
    const { time, retry } = retrying(3);
    const err = await refusal(source({ retry }).fetch(record('gs://docs/broken.txt'), { maxBytes: 10 }));
    expect(err).toMatchObject({ code: 'dependency_unavailable', retryable: true });
    expect(seen).toHaveLength(3);
    expect(time.sleeps).toHaveLength(2);
  });

  it('does not retry a permanent answer', async () => {
    const { time, retry } = retrying(4);
    await refusal(source({ retry }).fetch(record('gs://docs/missing.txt'), { maxBytes: 10 }));
    expect(seen).toHaveLength(1);
    expect(time.sleeps).toEqual([]);
  });
});

it('dates an HTTP-date Retry-After with the injected clock', async () => {
  objects.set('docs/busy.txt', {
    size: 2,
    metadataFailures: [{ status: 503, headers: { 'retry-after': 'Sun, 01 Mar 2026 12:00:35 GMT' } }],
  });
  const src = source({ clock: () => Date.parse('2026-03-01T12:00:05.000Z') });
  const err = await refusal(src.fetch(record('gs://docs/busy.txt'), { maxBytes: 10 }));
  expect(err).toMatchObject({ code: 'dependency_unavailable', retryAfterSeconds: 30 });
});

it('does not load @google-cloud/storage until the first fetch', async () => {
  let loads = 0;
  let pending: Promise<Uint8Array> | undefined;
  jest.isolateModules(() => {
    jest.doMock('@google-cloud/storage', () => {
      loads++;
      return jest.requireActual<object>('@google-cloud/storage');
    });
    const lazy =
      require('../../../shared/adapters/storage/source') as typeof import('../../../shared/adapters/storage/source');
    const src = lazy.makeGcsSource({ apiEndpoint: endpoint });
    expect(loads).toBe(0);
    pending = src.fetch(record('gs://docs/small.txt'), { maxBytes: 100 });
    expect(loads).toBe(1);
  });
  await expect(pending).resolves.toHaveLength(11);
});
