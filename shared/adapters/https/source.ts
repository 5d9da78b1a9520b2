/**
 * The guarded https document source: a document URL is attacker-controlled input, so this fetcher must
 * not become a way into the VPC or the metadata server (SSRF).
 *
 * How "connect to the address that was checked" is made provable: the name is resolved once, here, by
 * the injectable `resolve`; every resolved address is checked (address-policy.ts); the first one is
 * pinned; and the request is sent with `http(s).request({ createConnection })`. When `createConnection` is
 * given and no `agent`, Node's ClientRequest uses no agent and no lookup of its own: the socket the
 * connector returns for the pinned `{address, port}` is the only way the request can leave. The connector
 * is injectable too, so tests record every target and refuse anything but loopback. The default connector
 * connects to the IP (net/tls skip DNS for IP literals; its `lookup` throws to make that explicit) with
 * SNI and certificate verification against the URL's hostname, and the Host header is the URL's host, so
 * virtual hosting and TLS work as with a normal fetch. No agent also means no pooled socket is ever reused
 * for a different (unchecked) target.
 *
 * Redirects are followed by hand, at most `maxRedirects`, and each hop goes through the same check, so a
 * public page cannot bounce the fetch to 169.254.169.254. A name with ANY forbidden address is refused
 * (not filtered): DNS answers mixing public and private records are a rebinding trick, not a real server.
 */
import * as dns from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, type Socket, connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import {
  contentTooLarge,
  dependencyTimeout,
  dependencyUnavailable,
  isGraphmillError,
  notFound,
  sourceForbidden,
  unsupportedContent,
  type GraphmillError,
} from '../../errors';
import { isRetryableHttpStatus, parseRetryAfter } from '../../resilience/classify';
import {
  forbiddenAddressReason,
  isForbiddenHostname,
  normalizeAddress,
  normalizeHostname,
  type AddressPolicy,
} from './address-policy';
import { redactUrl } from '../../secrets/redaction';
import type { FetchOptions } from '../../documents/types';
import type { Clock } from '../../ports/clock';
import type { DocumentSource } from '../../ports/document-source';
import { systemClock } from '../../resilience/time';

export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}
/** Every address a name resolves to. */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** Where a connector must connect: an address that passed the policy, never a name. */
export interface ConnectTarget {
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
  /** The URL's hostname: TLS SNI and certificate verification (the Host header is set by the request). */
  readonly hostname: string;
  readonly tls: boolean;
}
/** Opens the socket for one request. Must connect to `target.address` and nowhere else. */
export type Connector = (target: ConnectTarget) => Socket;

export interface HttpsSourceOptions extends AddressPolicy {
  /** Whole fetch, every hop included. Default 30 s. */
  readonly timeoutMs?: number;
  /** TCP connect of one hop. Default 10 s (never more than timeoutMs). */
  readonly connectTimeoutMs?: number;
  /** Default 3. */
  readonly maxRedirects?: number;
  /** Default: `dns.promises.lookup(host, { all: true })`. */
  readonly resolve?: Resolver;
  /** Default: `makeConnector()`. */
  readonly connect?: Connector;
  /** Serve `http:` too (local tests only). Also allows an https -> http redirect. Default false. */
  readonly allowInsecureHttp?: boolean;
  readonly userAgent?: string;
  /** Dates a Retry-After hint. Default: the system clock. */
  readonly clock?: Clock;
}

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The OS resolver (getaddrinfo, /etc/hosts included), every address. Read at call time so it can be replaced. */
export const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true });

const noLookup = (hostname: string): never => {
  throw new Error(
    `refusing a DNS lookup of "${hostname}" at connect time: only checked addresses are dialled`,
  );
};

/** The real connector: TCP (or TLS with SNI = the URL's hostname) to the checked IP. `ca` is for tests. */
export function makeConnector(tlsOptions: Pick<ConnectionOptions, 'ca'> = {}): Connector {
  return (target) => {
    if (isIP(target.address) === 0) {
      throw new Error(`connector needs an IP address, got "${target.address}"`);
    }
    if (!target.tls) return netConnect({ host: target.address, port: target.port, lookup: noLookup });
    return tlsConnect({
      ...tlsOptions,
      host: target.address,
      port: target.port,
      lookup: noLookup,
      ALPNProtocols: ['http/1.1'],
      // SNI must be a name (RFC 6066); for an IP-literal URL the certificate is checked against the IP.
      ...(isIP(target.hostname) === 0 ? { servername: target.hostname } : {}),
    });
  };
}

/** Fetches `https://` documents (and `http://` when allowed), guarded as described at the top. */
export function makeHttpsSource(options: HttpsSourceOptions = {}): DocumentSource {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const connectTimeoutMs = Math.min(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, timeoutMs);
  const maxRedirects = options.maxRedirects ?? 3;
  const resolve = options.resolve ?? systemResolver;
  const connect = options.connect ?? makeConnector();
  const allowInsecureHttp = options.allowInsecureHttp ?? false;
  const policy: AddressPolicy = {
    ...(options.allowPrivate === undefined ? {} : { allowPrivate: options.allowPrivate }),
    ...(options.allowedAddresses === undefined ? {} : { allowedAddresses: options.allowedAddresses }),
  };
  const userAgent = options.userAgent ?? 'graphmill-fetch/1';
  const clock = options.clock ?? systemClock;
  const schemes: readonly string[] = allowInsecureHttp ? ['https:', 'http:'] : ['https:'];

  function checkScheme(url: URL, previous: URL | undefined, id: string): void {
    if (!schemes.includes(url.protocol)) {
      throw sourceForbidden(`Document ${id}: scheme "${url.protocol}" is not fetched (${label(url)})`);
    }
    if (url.username !== '' || url.password !== '') {
      throw sourceForbidden(`Document ${id}: URLs with credentials are not fetched (${label(url)})`);
    }
    if (previous?.protocol === 'https:' && url.protocol === 'http:' && !allowInsecureHttp) {
      throw sourceForbidden(`Document ${id}: redirect from https to http refused (${label(url)})`);
    }
  }

  /** Resolves and checks one hop; returns the pinned target. */
  async function checkTarget(url: URL, id: string, signal: AbortSignal): Promise<ConnectTarget> {
    const tls = url.protocol === 'https:';
    const port = url.port === '' ? (tls ? 443 : 80) : Number(url.port);
    const literal = normalizeAddress(url.hostname);
    const literalVersion = isIP(literal);
    if (literalVersion !== 0) {
      refuseForbidden(literal, url, id);
      return { address: literal, family: literalVersion === 4 ? 4 : 6, port, hostname: literal, tls };
    }
    const hostname = normalizeHostname(url.hostname);
    if (isForbiddenHostname(hostname)) {
      throw sourceForbidden(`Document ${id}: host "${hostname}" is not fetched (${label(url)})`, {
        details: { host: hostname, reason: 'forbidden-hostname' },
      });
    }
    let answers: readonly ResolvedAddress[];
    try {
      answers = await abortable(resolve(hostname), signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw dnsError(err, hostname, id);
    }
    const first = answers[0];
    if (first === undefined) throw notFound(`Document ${id}: host "${hostname}" has no address`);
    for (const answer of answers) refuseForbidden(answer.address, url, id, hostname);
    // Pinned: the request connects to exactly this checked address; there is no second lookup. IPv4 first:
    // Cloud Run's default egress has no IPv6 route, and without a second lookup there is no fallback.
    const pinned = answers.find((a) => isIP(normalizeAddress(a.address)) === 4) ?? first;
    const address = normalizeAddress(pinned.address);
    return { address, family: isIP(address) === 6 ? 6 : 4, port, hostname, tls };
  }

  function refuseForbidden(address: string, url: URL, id: string, hostname?: string): void {
    const reason = forbiddenAddressReason(address, policy);
    if (reason === undefined) return;
    const via = hostname === undefined ? '' : ` (resolved from "${hostname}")`;
    throw sourceForbidden(
      `Document ${id}: address ${address}${via} is ${reason}; not fetched (${label(url)})`,
      {
        details: { address, reason, ...(hostname === undefined ? {} : { host: hostname }) },
      },
    );
  }

  function send(url: URL, target: ConnectTarget, signal: AbortSignal): Promise<http.IncomingMessage> {
    return new Promise((resolveResponse, reject) => {
      let connectTimer: NodeJS.Timeout | undefined;
      const requestOptions: http.RequestOptions = {
        protocol: url.protocol,
        hostname: target.hostname, // the Host header only: createConnection below is the only way out
        port: target.port,
        defaultPort: target.tls ? 443 : 80,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { 'user-agent': userAgent, accept: '*/*', 'accept-encoding': 'identity' },
        signal,
        createConnection: () => {
          const socket = connect(target);
          // A deadline on a real socket: stays a real timer (an injected clock cannot cut a connect short).
          connectTimer = setTimeout(() => socket.destroy(new ConnectTimeout(target)), connectTimeoutMs);
          const clear = (): void => clearTimeout(connectTimer);
          socket.once('connect', clear).once('close', clear);
          return socket;
        },
      };
      const request = (target.tls ? https : http).request(requestOptions, resolveResponse);
      request.once('error', (err) => {
        clearTimeout(connectTimer);
        reject(err);
      });
      request.end();
    });
  }

  return {
    schemes,
    async fetch(record, { maxBytes, signal }: FetchOptions) {
      signal?.throwIfAborted();
      let url: URL;
      try {
        url = new URL(record.source);
      } catch (err) {
        throw sourceForbidden(`Document ${record.id}: invalid URL`, { cause: err });
      }
      checkScheme(url, undefined, record.id);

      const deadline = new AbortController();
      // A deadline on real I/O: stays a real timer (an injected clock cannot abort a request in flight).
      const timer = setTimeout(() => deadline.abort(new Error('fetch deadline')), timeoutMs);
      const combined = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
      try {
        for (let redirects = 0; ; redirects++) {
          const target = await checkTarget(url, record.id, combined);
          const response = await send(url, target, combined);
          const status = response.statusCode ?? 0;
          if (REDIRECTS.has(status)) {
            response.destroy();
            const location = response.headers.location;
            if (location === undefined || location === '') {
              throw unsupportedContent(`Document ${record.id}: redirect ${status} without a Location`);
            }
            if (redirects >= maxRedirects) {
              throw sourceForbidden(`Document ${record.id}: more than ${maxRedirects} redirects`, {
                details: { reason: 'too-many-redirects', lastUrl: label(url) },
              });
            }
            let next: URL;
            try {
              next = new URL(location, url);
            } catch (err) {
              throw sourceForbidden(`Document ${record.id}: invalid redirect Location`, { cause: err });
            }
            checkScheme(next, url, record.id);
            url = next;
            continue;
          }
          return await readBody(response, url, record.id, maxBytes, combined, clock);
        }
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (deadline.signal.aborted) {
          throw dependencyTimeout(`Document ${record.id}: fetch took longer than ${timeoutMs} ms`, {
            cause: err,
            details: { url: label(url) },
          });
        }
        throw translate(err, url, record.id);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

async function readBody(
  response: http.IncomingMessage,
  url: URL,
  id: string,
  maxBytes: number,
  signal: AbortSignal,
  clock: Clock,
): Promise<Uint8Array> {
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    response.destroy();
    throw statusError(status, response.headers['retry-after'], url, id, clock());
  }
  const encoding = response.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    response.destroy();
    throw unsupportedContent(`Document ${id}: content encoding "${encoding}" was not asked for`);
  }
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw contentTooLarge(`Document ${id} is ${declared} bytes; the limit is ${maxBytes}`);
  }
  const onAbort = (): void => {
    response.destroy(new Error('aborted'));
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of response as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      // Counted while streaming: Content-Length may be absent or wrong.
      if (total > maxBytes) {
        response.destroy();
        throw contentTooLarge(`Document ${id} is larger than the limit of ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function statusError(
  status: number,
  retryAfter: string | undefined,
  url: URL,
  id: string,
  now: number,
): GraphmillError {
  const what = `Document ${id}: ${label(url)} answered ${status}`;
  if (status === 404 || status === 410) return notFound(what);
  if (status === 401 || status === 403) return sourceForbidden(what);
  if (isRetryableHttpStatus(status)) {
    const ms = retryAfter === undefined ? undefined : parseRetryAfter(retryAfter, now);
    return dependencyUnavailable(
      what,
      ms === undefined ? {} : { retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)) },
    );
  }
  return unsupportedContent(what);
}

class ConnectTimeout extends Error {
  constructor(target: ConnectTarget) {
    super(`connect to ${target.address}:${target.port} timed out`);
    this.name = 'ConnectTimeout';
  }
}

const TLS_VERIFY_CODES = /^(ERR_TLS_|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|ERR_SSL_)/;

function translate(err: unknown, url: URL, id: string): GraphmillError {
  if (isGraphmillError(err)) return err;
  if (err instanceof ConnectTimeout) {
    return dependencyTimeout(`Document ${id}: ${err.message}`, { cause: err, details: { url: label(url) } });
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TLS_VERIFY_CODES.test(code)) {
    return sourceForbidden(`Document ${id}: TLS with ${url.host} failed (${code})`, { cause: err });
  }
  const detail = typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
  const message = `Document ${id}: fetching ${label(url)} failed (${detail})`;
  // Socket-level failures (refused, reset, unreachable) are transient: the pipeline's bounded retries decide.
  return dependencyUnavailable(message, { cause: err });
}

function dnsError(err: unknown, hostname: string, id: string): GraphmillError {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOTFOUND' || code === 'ENODATA') {
    return notFound(`Document ${id}: host "${hostname}" does not resolve`, { cause: err });
  }
  return dependencyUnavailable(`Document ${id}: resolving "${hostname}" failed`, { cause: err });
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      // Passed on as it is (wrapping by `instanceof Error` would lose the code of an error from another realm).
      (err: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** The URL for messages and logs: query values redacted (signed URLs carry credentials there). */
const label = (url: URL): string => redactUrl(url.href);
