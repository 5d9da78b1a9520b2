/**
 * Hostile sources for the bad-input suite: file:// paths that try to leave the file root, and https://
 * targets that try to reach private, loopback, link-local and metadata addresses (SSRF), directly, by
 * DNS, by redirect and by mixed DNS answers.
 *
 * The https source runs with an injected resolver (a fixed table, no real DNS) and an injected
 * connector that records every target and opens a socket only to 127.0.0.1: the one "public" address
 * of the table is served by a loopback server (redirects, binary and oversized answers). Anything else
 * the connector is asked for is recorded as a violation and refused before any socket exists.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect as netConnect, isIP } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ConnectTarget, Connector, Resolver } from '../../../shared/adapters/https/source';

/** A documentation-range-free public address that only ever maps to the loopback server below. */
export const FAKE_PUBLIC = '93.184.216.34';
const LOOPBACK = new Set(['127.0.0.1', '::1']);

export const RESOLVER_TABLE: Readonly<Record<string, readonly string[]>> = {
  'docs.example.test': [FAKE_PUBLIC],
  'internal.example.test': ['10.1.2.3'],
  'cgnat.example.test': ['100.64.0.9'],
  'meta-alias.example.test': ['169.254.169.254'],
  'loop.example.test': ['127.0.0.1'],
  'v6loop.example.test': ['::1'],
  'mapped.example.test': ['::ffff:169.254.169.254'],
  'nat64.example.test': ['64:ff9b::a9fe:a9fe'],
  'rebind.example.test': [FAKE_PUBLIC, '169.254.169.254'],
  'ula.example.test': ['fd00::1'],
};

export interface Egress {
  readonly resolve: Resolver;
  readonly connect: Connector;
  /** Every name the source asked the resolver for. */
  readonly resolved: string[];
  /** Every target the source asked the connector for. */
  readonly targets: ConnectTarget[];
  /** Targets that were not the fake public address: each one is an SSRF the guard let through. */
  readonly violations: ConnectTarget[];
  /** Sockets actually opened (all to 127.0.0.1). */
  readonly socketsOpened: string[];
  close(): Promise<void>;
}

export async function startEgress(): Promise<Egress> {
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const redirect = (to: string) => res.writeHead(302, { location: to }).end();
    switch (path) {
      case '/r-metadata':
        return redirect('https://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token');
      case '/r-metadata-name':
        return redirect('https://metadata.google.internal/computeMetadata/v1/');
      case '/r-private':
        return redirect('https://10.0.0.5/admin');
      case '/r-localhost':
        return redirect('https://localhost:8080/');
      case '/r-loopback-name':
        return redirect('https://loop.example.test/');
      case '/r-http':
        return redirect('http://docs.example.test/plain');
      case '/r-file':
        return redirect('file:///etc/passwd');
      case '/r-rebind':
        return redirect('https://rebind.example.test/');
      case '/r-loop':
        return redirect('/r-loop');
      case '/binary':
        return res
          .writeHead(200, { 'content-type': 'application/octet-stream' })
          .end(Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]));
      case '/huge':
        return res.writeHead(200, { 'content-type': 'text/plain' }).end(Buffer.alloc(2_000_000, 0x61));
      case '/gzip':
        return res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync('compressed'));
      case '/forbidden':
        return res.writeHead(403).end('no');
      default:
        return res.writeHead(404).end('not here');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('egress: no address');
  const port = address.port;

  const resolved: string[] = [];
  const targets: ConnectTarget[] = [];
  const violations: ConnectTarget[] = [];
  const socketsOpened: string[] = [];
  return {
    resolved,
    targets,
    violations,
    socketsOpened,
    resolve: (hostname) => {
      resolved.push(hostname);
      const addresses = RESOLVER_TABLE[hostname];
      if (!addresses) {
        return Promise.reject(
          Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }),
        );
      }
      return Promise.resolve(addresses.map((a) => ({ address: a, family: isIP(a) })));
    },
    connect: (target) => {
      targets.push(target);
      if (target.address !== FAKE_PUBLIC) {
        violations.push(target);
        throw new Error(`chaos connector: refusing ${target.address}:${target.port}`);
      }
      // The "public" server lives on loopback; plain HTTP on the socket (TLS is the connector's job).
      const host = '127.0.0.1';
      if (!LOOPBACK.has(host)) throw new Error('unreachable');
      socketsOpened.push(`${host}:${port}`);
      return netConnect({ host, port });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface HostileSource {
  readonly name: string;
  readonly source: string;
}

/** https:// sources that must all be refused or fail permanently, without a socket off loopback. */
export const SSRF_SOURCES: readonly HostileSource[] = [
  { name: 'metadata-ip', source: 'https://169.254.169.254/computeMetadata/v1/' },
  { name: 'metadata-name', source: 'https://metadata.google.internal/computeMetadata/v1/' },
  { name: 'metadata-name-dot', source: 'https://metadata.google.internal./computeMetadata/v1/' },
  { name: 'metadata-short', source: 'https://metadata/computeMetadata/v1/' },
  { name: 'loopback-v4', source: 'https://127.0.0.1/' },
  { name: 'loopback-v4-other', source: 'https://127.1.2.3:8443/' },
  { name: 'loopback-v6', source: 'https://[::1]/' },
  { name: 'localhost', source: 'https://localhost/' },
  { name: 'sub-localhost', source: 'https://foo.localhost/' },
  { name: 'decimal-ip', source: 'https://2130706433/' },
  { name: 'hex-ip', source: 'https://0x7f000001/' },
  { name: 'octal-ip', source: 'https://0177.0.0.1/' },
  { name: 'zero-ip', source: 'https://0/' },
  { name: 'unspecified', source: 'https://0.0.0.0/' },
  { name: 'private-10', source: 'https://10.0.0.1/' },
  { name: 'private-172', source: 'https://172.16.0.1/' },
  { name: 'private-192', source: 'https://192.168.1.1/' },
  { name: 'cgnat', source: 'https://100.64.0.1/' },
  { name: 'mapped-metadata', source: 'https://[::ffff:169.254.169.254]/' },
  { name: 'mapped-metadata-hex', source: 'https://[::ffff:a9fe:a9fe]/' },
  { name: 'ula', source: 'https://[fd00::1]/' },
  { name: 'link-local-v6', source: 'https://[fe80::1]/' },
  { name: 'nat64-metadata', source: 'https://[64:ff9b::a9fe:a9fe]/' },
  { name: 'dns-private', source: 'https://internal.example.test/' },
  { name: 'dns-cgnat', source: 'https://cgnat.example.test/' },
  { name: 'dns-metadata', source: 'https://meta-alias.example.test/' },
  { name: 'dns-loopback', source: 'https://loop.example.test/' },
  { name: 'dns-loopback-v6', source: 'https://v6loop.example.test/' },
  { name: 'dns-mapped', source: 'https://mapped.example.test/' },
  { name: 'dns-nat64', source: 'https://nat64.example.test/' },
  { name: 'dns-ula', source: 'https://ula.example.test/' },
  { name: 'dns-rebinding-mix', source: 'https://rebind.example.test/' },
  { name: 'dns-unknown', source: 'https://nowhere.example.test/' },
  { name: 'credentials', source: 'https://user:secret@docs.example.test/' },
  { name: 'plain-http', source: 'http://docs.example.test/' },
  { name: 'gopher', source: 'gopher://127.0.0.1:6379/_FLUSHALL' },
  { name: 'ftp', source: 'ftp://docs.example.test/x' },
  { name: 'dict', source: 'dict://127.0.0.1:11211/stat' },
  { name: 'redirect-metadata', source: 'https://docs.example.test/r-metadata' },
  { name: 'redirect-metadata-name', source: 'https://docs.example.test/r-metadata-name' },
  { name: 'redirect-private', source: 'https://docs.example.test/r-private' },
  { name: 'redirect-localhost', source: 'https://docs.example.test/r-localhost' },
  { name: 'redirect-loopback-name', source: 'https://docs.example.test/r-loopback-name' },
  { name: 'redirect-http', source: 'https://docs.example.test/r-http' },
  { name: 'redirect-file', source: 'https://docs.example.test/r-file' },
  { name: 'redirect-rebind', source: 'https://docs.example.test/r-rebind' },
  { name: 'redirect-loop', source: 'https://docs.example.test/r-loop' },
  { name: 'binary-content', source: 'https://docs.example.test/binary' },
  { name: 'oversized-content', source: 'https://docs.example.test/huge' },
  { name: 'unasked-encoding', source: 'https://docs.example.test/gzip' },
  { name: 'forbidden-answer', source: 'https://docs.example.test/forbidden' },
  { name: 'missing-answer', source: 'https://docs.example.test/missing' },
];

/**
 * file:// sources under (and escaping) `root`. Builds the fixtures: a directory, a symlink out of the
 * root, a binary file, an oversized file and a FIFO inside the root.
 */
export function fileSources(root: string, outside: string, maxDocumentBytes: number): HostileSource[] {
  mkdirSync(join(root, 'subdir'), { recursive: true });
  writeFileSync(join(outside, 'secret.txt'), 'outside the root');
  symlinkSync(join(outside, 'secret.txt'), join(root, 'link-out'));
  symlinkSync(outside, join(root, 'dir-link-out'));
  writeFileSync(join(root, 'binary.bin'), Buffer.from([0xff, 0xfe, 0xfd, 0x00, 0xc3, 0x28]));
  writeFileSync(join(root, 'big.txt'), Buffer.alloc(maxDocumentBytes + 1, 0x61));
  const base = `file://${root}`;
  const sources: HostileSource[] = [
    { name: 'etc-passwd', source: 'file:///etc/passwd' },
    { name: 'proc-environ', source: 'file:///proc/self/environ' },
    { name: 'dotdot', source: `${base}/../../../../etc/passwd` },
    { name: 'dotdot-encoded', source: `${base}/%2e%2e/%2e%2e/%2e%2e/etc/passwd` },
    { name: 'slash-encoded', source: `${base}/..%2f..%2fetc%2fpasswd` },
    { name: 'outside-sibling', source: `file://${outside}/secret.txt` },
    { name: 'symlink-out', source: `${base}/link-out` },
    { name: 'dir-symlink-out', source: `${base}/dir-link-out/secret.txt` },
    { name: 'root-itself', source: `${base}` },
    { name: 'directory', source: `${base}/subdir` },
    { name: 'missing', source: `${base}/missing.txt` },
    { name: 'nul-byte', source: `${base}/a%00b` },
    { name: 'remote-host', source: 'file://remotehost/etc/passwd' },
    { name: 'binary', source: `${base}/binary.bin` },
    { name: 'oversized', source: `${base}/big.txt` },
    { name: 'not-a-url', source: 'file:' },
  ];
  // A FIFO blocks open(2) until a writer shows up: a hostile file that never ends.
  if (spawnSync('mkfifo', [join(root, 'fifo')]).status === 0) {
    sources.push({ name: 'fifo', source: `${base}/fifo` });
  }
  return sources;
}

export interface StreamedAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly connection: string;
  readonly body: string;
  /** Body bytes the client had written when the answer's head arrived. */
  readonly sentAtAnswer: number;
  /** Body bytes written in all (the client stops writing once answered). */
  readonly sent: number;
  readonly ms: number;
}

export interface StreamedUpload {
  readonly port: number;
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Bytes to send if the server lets it; without a Content-Length header the body is chunked. */
  readonly totalBytes: number;
  readonly chunkBytes?: number;
  /** A pause between chunks: a slow-drip body. */
  readonly dripMs?: number;
  readonly timeoutMs?: number;
}

/**
 * Streams a large body to a loopback server as fast as the socket takes it (or drip by drip) and stops
 * writing as soon as the answer's head arrives, recording how much had been sent by then.
 */
export function sendStreamedBody(upload: StreamedUpload): Promise<StreamedAnswer> {
  const chunkBytes = upload.chunkBytes ?? 64 * 1024;
  const chunk = Buffer.alloc(chunkBytes, 0x61);
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    let failed = false;
    const req = httpRequest({
      host: '127.0.0.1',
      port: upload.port,
      method: 'POST',
      path: upload.path ?? '/',
      headers: { ...upload.headers },
      agent: false,
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer within ${upload.timeoutMs ?? 60_000} ms`)),
      upload.timeoutMs ?? 60_000,
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      failed = true;
      // Once answered, a reset or broken pipe is the server closing the connection on the rest.
      if (!answered) {
        clearTimeout(timer);
        reject(err);
      }
    });
    req.on('response', (res) => {
      answered = true;
      const sentAtAnswer = sent;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('error', () => undefined);
      res.on('close', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          connection: String(res.headers['connection'] ?? ''),
          body: Buffer.concat(parts).toString('utf8'),
          sentAtAnswer,
          sent,
          ms: Date.now() - t0,
        });
        req.destroy();
      });
    });
    const pump = async (): Promise<void> => {
      while (sent < upload.totalBytes && !answered && !failed) {
        const piece =
          upload.totalBytes - sent < chunkBytes ? chunk.subarray(0, upload.totalBytes - sent) : chunk;
        const ok = req.write(piece);
        sent += piece.length;
        if (!ok) {
          await new Promise<void>((next) => {
            const go = () => {
              req.off('drain', go);
              req.off('response', go);
              req.off('close', go);
              next();
            };
            req.on('drain', go);
            req.on('response', go);
            req.on('close', go);
          });
        }
        if (upload.dripMs !== undefined) await new Promise((next) => setTimeout(next, upload.dripMs));
      }
      if (!answered && !failed) req.end();
    };
    void pump();
  });
}
