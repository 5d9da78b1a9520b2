/**
 * The guarded https source. Hard rule for this file: the only real connections go to loopback. The
 * resolver and the connector are injected (the connector refuses anything but 127.0.0.1 / ::1 and records
 * every target), and two tripwires catch a broken guard that would bypass them: `net.Socket#connect` to a
 * non-loopback host and any real DNS lookup throw before a packet is sent.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as dns from 'node:dns';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { GraphmillError } from '../../../shared/errors';
import {
  classifyAddress,
  forbiddenAddressReason,
  isForbiddenAddress,
  isForbiddenHostname,
} from '../../../shared/adapters/https/address-policy';
import {
  makeConnector,
  makeHttpsSource,
  type ConnectTarget,
  type Connector,
  type HttpsSourceOptions,
  type Resolver,
} from '../../../shared/adapters/https/source';
import { inlineSource } from '../../../shared/documents/inline';
import { makeSourceRouter } from '../../../shared/documents/router';
import type { DocumentRecord } from '../../../shared/status/types';

const LOOPBACK: ReadonlySet<string> = new Set(['127.0.0.1', '::1']);

// ---------------------------------------------------------------------------------------------------------
// Tripwires

const tripped: string[] = [];
let loopbackConnects = 0;
const realSocketConnect = net.Socket.prototype.connect;
beforeAll(() => {
  jest.spyOn(net.Socket.prototype, 'connect').mockImplementation(function (
    this: net.Socket,
    ...args: unknown[]
  ) {
    // net.connect() passes its normalized [options, callback] pair as the single argument.
    const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    const host =
      typeof first === 'object' && first !== null
        ? ((first as { host?: string; path?: string }).path ?? (first as { host?: string }).host)
        : typeof args[1] === 'string'
          ? args[1]
          : undefined;
    if (host === undefined || !LOOPBACK.has(host)) {
      tripped.push(`socket connect to ${String(host)}`);
      throw new Error(`tripwire: socket connect to ${String(host)} refused in tests`);
    }
    loopbackConnects++;
    return (realSocketConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  });
  jest.spyOn(dns.promises, 'lookup').mockImplementation((hostname: string) => {
    tripped.push(`dns lookup of ${hostname}`);
    return Promise.reject(new Error(`tripwire: real DNS lookup of ${hostname} in tests`));
  });
});
afterAll(() => jest.restoreAllMocks());
afterEach(() => expect(tripped.splice(0)).toEqual([]));

// ---------------------------------------------------------------------------------------------------------
// Helpers

function recordingConnector(base: Connector = makeConnector()): {
  connect: Connector;
  targets: ConnectTarget[];
} {
  const targets: ConnectTarget[] = [];
  return {
    targets,
    connect: (target) => {
      targets.push(target);
      if (!LOOPBACK.has(target.address)) {
        throw new Error(`test connector: refusing non-loopback target ${target.address}`);
      }
      return base(target);
    },
  };
}

function fakeResolver(table: Readonly<Record<string, readonly string[]>>): {
  resolve: Resolver;
  calls: string[];
} {
  const calls: string[] = [];
  return {
    calls,
    resolve: (host) => {
      calls.push(host);
      const addresses = table[host];
      if (!addresses) {
        return Promise.reject(
          Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }),
        );
      }
      return Promise.resolve(addresses.map((address) => ({ address, family: net.isIP(address) })));
    },
  };
}

const RESOLVER_TABLE = {
  'docs.example.test': ['127.0.0.1'],
  'other.example.test': ['127.0.0.1'],
  'private.example.test': ['10.0.0.7'],
  'mixed.example.test': ['93.184.216.34', '10.0.0.8'],
  'meta-alias.example.test': ['169.254.169.254'],
  'mapped.example.test': ['::ffff:192.168.1.1'],
  'dual.example.test': ['2606:4700::1111', '127.0.0.1'],
};

const record = (source: string): DocumentRecord => ({
  id: 'doc-1',
  source,
  status: 'processing',
  attempt: 1,
  createdAt: 0,
  updatedAt: 0,
});

interface Harness {
  readonly targets: ConnectTarget[];
  readonly resolverCalls: string[];
  fetch(source: string, maxBytes?: number, signal?: AbortSignal): Promise<Uint8Array>;
}

function harness(extra: Partial<HttpsSourceOptions> = {}, base?: Connector): Harness {
  const connector = recordingConnector(base);
  const resolver = fakeResolver(RESOLVER_TABLE);
  const source = makeHttpsSource({
    timeoutMs: 2_000,
    resolve: resolver.resolve,
    connect: connector.connect,
    ...extra,
  });
  return {
    targets: connector.targets,
    resolverCalls: resolver.calls,
    fetch: (src, maxBytes = 1_000_000, signal) =>
      source.fetch(record(src), { maxBytes, ...(signal ? { signal } : {}) }),
  };
}

async function refusal(promise: Promise<Uint8Array>): Promise<GraphmillError> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(GraphmillError);
    return err as GraphmillError;
  }
  throw new Error(`expected a refusal, got ${bytes.byteLength} bytes`);
}

function expectForbidden(err: GraphmillError, mentions: string): void {
  expect(err).toMatchObject({ code: 'source_forbidden', status: 422, retryable: false });
  expect(err.message).toContain(mentions);
}

interface TestServer {
  readonly port: number;
  readonly requests: http.IncomingMessage[];
  close(): Promise<void>;
}

async function listen(
  server: http.Server | https.Server,
  requests: http.IncomingMessage[],
): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function startServer(handler: http.RequestListener): Promise<TestServer> {
  const requests: http.IncomingMessage[] = [];
  return listen(
    http.createServer((req, res) => {
      requests.push(req);
      handler(req, res);
    }),
    requests,
  );
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function serve(handler: http.RequestListener): Promise<TestServer> {
  const server = await startServer(handler);
  servers.push(server);
  return server;
}

// ---------------------------------------------------------------------------------------------------------

describe('tripwires', () => {
  it('stop a direct non-loopback connect and a real DNS lookup before anything is sent', async () => {
    expect(() => net.connect({ host: '10.255.255.1', port: 9 })).toThrow('tripwire');
    await expect(dns.promises.lookup('example.com')).rejects.toThrow('tripwire');
    expect(tripped.splice(0)).toEqual(['socket connect to 10.255.255.1', 'dns lookup of example.com']);
  });
});

describe('refusals (no connection is attempted)', () => {
  it.each([
    ['https://127.0.0.1/', '127.0.0.1', 'loopback'],
    ['https://10.0.0.1/', '10.0.0.1', 'private'],
    ['https://169.254.169.254/computeMetadata/v1/', '169.254.169.254', 'link-local'],
    ['https://[::1]/', '::1', 'loopback'],
    ['https://[::ffff:10.0.0.1]/', '::ffff:a00:1', 'private'],
    ['https://[::ffff:169.254.169.254]/', '::ffff:a9fe:a9fe', 'link-local'],
    ['https://[fe80::1]/', 'fe80::1', 'link-local'],
    ['https://[fd00::1]/', 'fd00::1', 'private'],
    ['https://100.64.0.1/', '100.64.0.1', 'shared'],
    ['https://0.0.0.0/', '0.0.0.0', 'unspecified'],
    ['https://224.0.0.1/', '224.0.0.1', 'multicast'],
    ['https://0x7f.1/', '127.0.0.1', 'loopback'], // the URL parser canonicalises odd IPv4 spellings
    ['https://2130706433/', '127.0.0.1', 'loopback'],
  ])('%s', async (url, address, reason) => {
    const h = harness();
    const err = await refusal(h.fetch(url));
    expectForbidden(err, `address ${address} `);
    expect(err.message).toContain(reason);
    expect(err.details).toMatchObject({ address, reason });
    expect(h.targets).toEqual([]);
    expect(h.resolverCalls).toEqual([]); // a literal is checked directly, never resolved
  });

  it.each([
    ['https://metadata.google.internal/computeMetadata/v1/', 'metadata.google.internal'],
    ['https://METADATA.GOOGLE.INTERNAL./', 'metadata.google.internal'],
    ['https://metadata/computeMetadata/v1/', 'metadata'],
    ['https://localhost/', 'localhost'],
    ['https://app.localhost/', 'app.localhost'],
  ])('%s is refused by name, before any DNS lookup', async (url, host) => {
    const h = harness();
    expectForbidden(await refusal(h.fetch(url)), `host "${host}"`);
    expect(h.resolverCalls).toEqual([]);
    expect(h.targets).toEqual([]);
  });

  it.each([
    ['https://private.example.test/doc', '10.0.0.7', 'private'],
    ['https://mixed.example.test/doc', '10.0.0.8', 'private'], // one public and one private answer
    ['https://meta-alias.example.test/doc', '169.254.169.254', 'link-local'],
    ['https://mapped.example.test/doc', '::ffff:192.168.1.1', 'private'],
  ])('%s: a name resolving to a forbidden address', async (url, address, reason) => {
    const h = harness();
    const err = await refusal(h.fetch(url));
    expectForbidden(err, `address ${address} (resolved from "${new URL(url).hostname}") is ${reason}`);
    expect(h.resolverCalls).toEqual([new URL(url).hostname]);
    expect(h.targets).toEqual([]);
  });

  it('refuses http:, file: and credentials in the URL unless configured', async () => {
    const h = harness();
    expectForbidden(await refusal(h.fetch('http://docs.example.test/doc')), 'scheme "http:"');
    expectForbidden(await refusal(h.fetch('file:///etc/passwd')), 'scheme "file:"');
    expectForbidden(await refusal(h.fetch('https://user:pw@docs.example.test/')), 'credentials');
    expectForbidden(await refusal(h.fetch('not a url')), 'invalid URL');
    expect(h.targets).toEqual([]);
  });

  it('the router without the file source refuses file:// with a permanent error', async () => {
    const router = makeSourceRouter([inlineSource, makeHttpsSource({ resolve: fakeResolver({}).resolve })]);
    expect(router.schemes).toEqual(['inline:', 'https:']);
    const err = await refusal(router.fetch(record('file:///etc/passwd'), { maxBytes: 1000 }));
    expect(err).toMatchObject({ retryable: false, status: 422 });
    expect(err.message).toContain('"file:" of document doc-1 is not enabled');
  });

  it('allowPrivate lifts private ranges only; loopback and link-local stay refused', async () => {
    const h = harness({ allowPrivate: true });
    expectForbidden(await refusal(h.fetch('https://169.254.169.254/')), 'link-local');
    expectForbidden(await refusal(h.fetch('https://127.0.0.1/')), 'loopback');
    // 10.0.0.1 passes the policy; the test connector then refuses the (non-loopback) connect itself.
    const err = await refusal(h.fetch('https://10.0.0.1/'));
    expect(err.code).toBe('dependency_unavailable');
    expect(h.targets.map((t) => t.address)).toEqual(['10.0.0.1']);
  });
});

describe('fetching through a local server (127.0.0.1 allowed for the test)', () => {
  const local: Partial<HttpsSourceOptions> = { allowInsecureHttp: true, allowedAddresses: ['127.0.0.1'] };

  it('connects to the pinned, checked address with Host = the URL host', async () => {
    const server = await serve((_req, res) => res.end('hello from the document'));
    const h = harness(local);
    const before = loopbackConnects;
    const bytes = await h.fetch(`http://docs.example.test:${server.port}/doc?x=1`);
    expect(loopbackConnects).toBe(before + 1); // the tripwire sits on the real path
    expect(Buffer.from(bytes).toString()).toBe('hello from the document');
    expect(h.resolverCalls).toEqual(['docs.example.test']);
    expect(h.targets).toEqual([
      { address: '127.0.0.1', family: 4, port: server.port, hostname: 'docs.example.test', tls: false },
    ]);
    expect(server.requests[0]?.headers.host).toBe(`docs.example.test:${server.port}`);
    expect(server.requests[0]?.url).toBe('/doc?x=1');
    expect(server.requests[0]?.headers['accept-encoding']).toBe('identity');
  });

  it('pins the IPv4 answer of a dual-stack name (every answer checked first)', async () => {
    const server = await serve((_req, res) => res.end('v4'));
    const h = harness(local);
    const bytes = await h.fetch(`http://dual.example.test:${server.port}/`);
    expect(Buffer.from(bytes).toString()).toBe('v4');
    expect(h.targets.map((t) => [t.address, t.family])).toEqual([['127.0.0.1', 4]]);
  });

  it('follows a redirect within bounds, checking each hop', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/a') res.writeHead(302, { location: '/b' }).end();
      else if (req.url === '/b')
        res.writeHead(301, { location: `http://other.example.test:${server.port}/c` }).end();
      else res.end('final');
    });
    const h = harness(local);
    const bytes = await h.fetch(`http://docs.example.test:${server.port}/a`);
    expect(Buffer.from(bytes).toString()).toBe('final');
    expect(server.requests.map((r) => r.url)).toEqual(['/a', '/b', '/c']);
    expect(h.resolverCalls).toEqual(['docs.example.test', 'docs.example.test', 'other.example.test']);
    expect(h.targets.every((t) => t.address === '127.0.0.1')).toBe(true);
  });

  it.each([
    ['http://10.0.0.5/secret', 'address 10.0.0.5 is private'],
    ['http://169.254.169.254/computeMetadata/v1/', 'address 169.254.169.254 is link-local'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'host "metadata.google.internal"'],
    ['http://private.example.test/', 'address 10.0.0.7 (resolved from "private.example.test")'],
    ['http://[::ffff:10.0.0.5]/', 'address ::ffff:a00:5 is private'],
  ])('refuses a redirect to %s without connecting to it', async (location, mentions) => {
    const server = await serve((_req, res) => res.writeHead(302, { location }).end());
    const h = harness(local);
    const err = await refusal(h.fetch(`http://127.0.0.1:${server.port}/start`));
    expectForbidden(err, mentions);
    expect(server.requests).toHaveLength(1);
    expect(h.targets.map((t) => t.address)).toEqual(['127.0.0.1']);
  });

  it('refuses past maxRedirects', async () => {
    const server = await serve((req, res) => {
      const n = Number(req.url?.slice('/loop/'.length));
      res.writeHead(307, { location: `/loop/${n + 1}` }).end();
    });
    const h = harness({ ...local, maxRedirects: 2 });
    const err = await refusal(h.fetch(`http://127.0.0.1:${server.port}/loop/0`));
    expectForbidden(err, 'more than 2 redirects');
    expect(server.requests.map((r) => r.url)).toEqual(['/loop/0', '/loop/1', '/loop/2']);
  });

  it('refuses a declared Content-Length above the limit before reading the body', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '5000' });
      res.write('x'.repeat(100)); // then hangs: the client must not wait for the rest
    });
    const h = harness(local);
    const err = await refusal(h.fetch(`http://127.0.0.1:${server.port}/`, 1000));
    expect(err).toMatchObject({ code: 'content_too_large', status: 413, retryable: false });
    expect(err.message).toContain('5000 bytes');
  });

  it('cuts off a body without Content-Length once it passes the limit', async () => {
    let written = 0;
    const server = await serve((_req, res) => {
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      const pump = (): void => {
        while (written < 64 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const h = harness(local);
    const err = await refusal(h.fetch(`http://127.0.0.1:${server.port}/`, 100_000));
    expect(err).toMatchObject({ code: 'content_too_large', status: 413, retryable: false });
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('a hanging server ends in a retryable dependency_timeout within the deadline', async () => {
    const server = await serve(() => {
      // never answers
    });
    const h = harness({ ...local, timeoutMs: 150 });
    const started = Date.now();
    const err = await refusal(h.fetch(`http://127.0.0.1:${server.port}/`));
    expect(err).toMatchObject({ code: 'dependency_timeout', status: 503, retryable: true });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a body that stalls midway times out too', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    const h = harness({ ...local, timeoutMs: 150 });
    const err = await refusal(h.fetch(`http://127.0.0.1:${server.port}/`));
    expect(err).toMatchObject({ code: 'dependency_timeout', retryable: true });
  });

  it('a caller abort is passed through, not turned into a timeout', async () => {
    const server = await serve(() => {
      // never answers
    });
    const h = harness(local);
    const controller = new AbortController();
    const pending = h.fetch(`http://127.0.0.1:${server.port}/`, 1000, controller.signal);
    setTimeout(() => controller.abort(new Error('shutting down')), 20);
    await expect(pending).rejects.toThrow('shutting down');
  });

  it.each([
    [404, {}, { code: 'not_found', status: 404, retryable: false }],
    [403, {}, { code: 'source_forbidden', status: 422, retryable: false }],
    [503, { 'retry-after': '7' }, { code: 'dependency_unavailable', retryable: true, retryAfterSeconds: 7 }],
    [429, {}, { code: 'dependency_unavailable', retryable: true }],
    [400, {}, { code: 'unsupported_content', status: 422, retryable: false }],
  ])('maps an origin %i', async (status, headers, expected) => {
    const server = await serve((_req, res) => res.writeHead(status, headers).end('nope'));
    const h = harness(local);
    expect(await refusal(h.fetch(`http://127.0.0.1:${server.port}/`))).toMatchObject(expected);
  });

  it('dates an HTTP-date Retry-After with the injected clock', async () => {
    const server = await serve((_req, res) =>
      res.writeHead(503, { 'retry-after': 'Sun, 01 Mar 2026 12:00:35 GMT' }).end('busy'),
    );
    const h = harness({ ...local, clock: () => Date.parse('2026-03-01T12:00:05.000Z') });
    expect(await refusal(h.fetch(`http://127.0.0.1:${server.port}/`))).toMatchObject({
      code: 'dependency_unavailable',
      retryAfterSeconds: 30,
    });
  });

  it('a refused connection is retryable', async () => {
    const server = await serve((_req, res) => res.end());
    const { port } = server;
    await server.close();
    servers.length = 0;
    const h = harness(local);
    expect(await refusal(h.fetch(`http://127.0.0.1:${port}/`))).toMatchObject({
      code: 'dependency_unavailable',
      retryable: true,
    });
  });
});

// TLS: the default connector dials the checked IP, but SNI and certificate verification use the URL's
// hostname. Needs openssl to mint a throwaway certificate; skipped (with the reason) without it.
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const describeTls = hasOpenssl ? describe : describe.skip;
if (!hasOpenssl) console.warn('https-source: TLS tests skipped: openssl is not on PATH');

describeTls('TLS through the default connector', () => {
  let dir: string;
  let key: Buffer;
  let cert: Buffer;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'graphmill-tls-'));
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
        ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1'],
        ...['-subj', '/CN=docs.example.test', '-addext', 'subjectAltName=DNS:docs.example.test'],
      ],
      { stdio: 'ignore' },
    );
    key = readFileSync(join(dir, 'key.pem'));
    cert = readFileSync(join(dir, 'cert.pem'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function tlsServer(): Promise<{ server: TestServer; servernames: (string | false | null)[] }> {
    const requests: http.IncomingMessage[] = [];
    const servernames: (string | false | null)[] = [];
    const srv = https.createServer({ key, cert }, (req, res) => {
      requests.push(req);
      servernames.push((req.socket as TLSSocket).servername);
      res.end('over tls');
    });
    const server = await listen(srv, requests);
    servers.push(server);
    return { server, servernames };
  }

  it('sends SNI and Host for the URL hostname while connecting to the pinned IP', async () => {
    const { server, servernames } = await tlsServer();
    const h = harness({ allowedAddresses: ['127.0.0.1'] }, makeConnector({ ca: cert }));
    const bytes = await h.fetch(`https://docs.example.test:${server.port}/doc`);
    expect(Buffer.from(bytes).toString()).toBe('over tls');
    expect(servernames).toEqual(['docs.example.test']);
    expect(server.requests[0]?.headers.host).toBe(`docs.example.test:${server.port}`);
    expect(h.targets).toEqual([
      { address: '127.0.0.1', family: 4, port: server.port, hostname: 'docs.example.test', tls: true },
    ]);
  });

  it('verifies the certificate against the URL hostname, not the IP', async () => {
    const { server } = await tlsServer();
    const h = harness({ allowedAddresses: ['127.0.0.1'] }, makeConnector({ ca: cert }));
    const err = await refusal(h.fetch(`https://other.example.test:${server.port}/doc`));
    expectForbidden(err, 'TLS with other.example.test');
    expect(server.requests).toHaveLength(0);
  });
});

describe('address policy', () => {
  it.each([
    ['8.8.8.8', undefined],
    ['2001:4860:4860::8888', undefined],
    ['::ffff:8.8.8.8', undefined],
    ['172.32.0.1', undefined],
    ['127.0.0.53', 'loopback'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fd12:3456::1', 'private'],
    ['100.127.255.255', 'shared'],
    ['169.254.169.254', 'link-local'],
    ['[fe80::1%25eth0]', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 'link-local'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::127.0.0.1', 'ipv4-embedding'],
    ['64:ff9b::a00:1', 'ipv4-embedding'],
    ['2002:a00:1::1', 'ipv4-embedding'],
    ['not-an-ip', 'invalid'],
  ])('%s -> %s', (ip, expected) => {
    expect(classifyAddress(ip)).toBe(expected);
  });

  it('allowPrivate and allowedAddresses', () => {
    expect(isForbiddenAddress('10.1.2.3')).toBe(true);
    expect(isForbiddenAddress('10.1.2.3', { allowPrivate: true })).toBe(false);
    expect(isForbiddenAddress('100.64.1.1', { allowPrivate: true })).toBe(false);
    expect(forbiddenAddressReason('127.0.0.1', { allowPrivate: true })).toBe('loopback');
    expect(forbiddenAddressReason('169.254.169.254', { allowPrivate: true })).toBe('link-local');
    expect(isForbiddenAddress('127.0.0.1', { allowedAddresses: ['127.0.0.1'] })).toBe(false);
    // Another spelling of an allowed address is not silently allowed.
    expect(isForbiddenAddress('::ffff:127.0.0.1', { allowedAddresses: ['127.0.0.1'] })).toBe(true);
    expect(isForbiddenAddress('127.0.0.2', { allowedAddresses: ['127.0.0.1'] })).toBe(true);
  });

  it('hostnames', () => {
    for (const name of [
      'metadata',
      'metadata.google.internal',
      'Metadata.Google.Internal.',
      'localhost',
      'a.localhost',
      '',
    ]) {
      expect(isForbiddenHostname(name)).toBe(true);
    }
    for (const name of ['docs.example.com', 'metadata.example.com', 'localhost.example.com']) {
      expect(isForbiddenHostname(name)).toBe(false);
    }
  });
});
