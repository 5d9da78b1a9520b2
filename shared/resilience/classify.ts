/**
 * Is a failure worth retrying? Decided from structured fields only (class, `retryable`, status, `code`,
 * `name`), never from message text. Unknown errors are not retryable: like `toGraphmillError`, an
 * error nobody classified is treated as a bug, and retrying a bug only multiplies it.
 */
import { isGraphmillError } from '../errors';

/** Upper bound on a server's `Retry-After`: a misconfigured proxy answering "86400" must not park a call. */
export const MAX_RETRY_AFTER_MS = 300_000;

/**
 * gRPC codes (google-gax, Firestore, Secret Manager, Pub/Sub) worth retrying: DEADLINE_EXCEEDED (4),
 * RESOURCE_EXHAUSTED (8), ABORTED (10), INTERNAL (13), UNAVAILABLE (14). Everything else (INVALID_ARGUMENT,
 * NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, FAILED_PRECONDITION, UNAUTHENTICATED, CANCELLED, UNKNOWN,
 * ...) is permanent.
 */
const RETRYABLE_GRPC_CODES: ReadonlySet<number> = new Set([4, 8, 10, 13, 14]);
const GRPC_CODE_NAMES: readonly string[] = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/**
 * Transient socket and DNS failures from Node and undici (fetch). ENOTFOUND is deliberately absent: it is
 * an authoritative "no such host" (a typo or a missing private DNS zone) and does not heal by retrying;
 * the transient DNS failure is EAI_AGAIN. Of undici's UND_ERR_* codes only the socket and timeout ones
 * are transient; UND_ERR_ABORTED, UND_ERR_INVALID_ARG, UND_ERR_RES_EXCEEDED_MAX_SIZE, ... are not.
 */
const RETRYABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** How deep `isRetryable` follows `cause` (fetch throws `TypeError('fetch failed')` with the socket error as cause). */
const MAX_CAUSE_DEPTH = 5;

type Bag = Record<string, unknown>;
const isBag = (v: unknown): v is Bag => typeof v === 'object' && v !== null;

/** True when retrying the operation that threw `err` can succeed. */
export function isRetryable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && isBag(current); depth++) {
    const verdict = classifyOne(current);
    if (verdict !== undefined) return verdict;
    current = current['cause'];
  }
  return false;
}

/** A short, stable code for logs and metrics (`dependency_unavailable`, `http_503`, `grpc_UNAVAILABLE`, `ECONNRESET`, ...). */
export function errorCodeOf(err: unknown): string {
  if (isGraphmillError(err)) return err.code;
  if (!isBag(err)) return typeof err;
  if (isNeo4jShaped(err)) return err['code'];
  const status = httpStatusOf(err);
  if (status !== undefined) return `http_${status}`;
  const code = err['code'];
  if (isGrpcCode(code)) return `grpc_${GRPC_CODE_NAMES[code] ?? code}`;
  if (typeof code === 'string' && code !== '') return code;
  const cause = err['cause'];
  if (isBag(cause)) return errorCodeOf(cause);
  return typeof err['name'] === 'string' ? err['name'] : 'unknown';
}

/**
 * How long the failure asks us to wait, in ms, or undefined when it does not say: a GraphmillError's
 * `retryAfterSeconds`, else a `Retry-After` header (delta-seconds or an HTTP date, measured from `now`)
 * on the error's response. Follows `cause`, so a GraphmillError wrapping a 429 keeps the server's hint.
 * Capped at MAX_RETRY_AFTER_MS.
 */
export function retryAfterMs(err: unknown, now: number): number | undefined {
  let current: unknown = err;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && isBag(current); depth++) {
    const ms = ownRetryAfterMs(current, now);
    if (ms !== undefined) return Math.min(ms, MAX_RETRY_AFTER_MS);
    current = current['cause'];
  }
  return undefined;
}

function classifyOne(err: Bag): boolean | undefined {
  // A full disk stays full until someone frees it: the document is worth retrying later, the call not now.
  if (isGraphmillError(err)) return err.retryable && err.code !== 'state_store_full';
  if (isNeo4jShaped(err)) return isNeo4jRetryable(err);
  const status = httpStatusOf(err);
  if (status !== undefined) return isRetryableHttpStatus(status);
  const code = err['code'];
  if (isGrpcCode(code)) return RETRYABLE_GRPC_CODES.has(code);
  if (typeof code === 'string' && RETRYABLE_NETWORK_CODES.has(code)) return true;
  // AbortSignal.timeout() aborts with a TimeoutError: a slow dependency, worth another try. An AbortError is
  // the caller cancelling, which a retry must respect.
  if (err['name'] === 'TimeoutError') return true;
  if (err['name'] === 'AbortError') return false;
  return undefined;
}

/**
 * 408, 429 and 5xx are transient; 501 (Not Implemented) and 505 (HTTP Version Not Supported) are not, nor
 * any other 4xx. 408 is the one addition to "429 and 5xx": a server-side request timeout, which Google's
 * own retry guidance (Cloud Storage, googleapis) treats as retryable.
 */
export function isRetryableHttpStatus(status: number): boolean {
  if (status === 408 || status === 429) return true;
  if (status === 501 || status === 505) return false;
  return status >= 500 && status <= 599;
}

const isHttpStatus = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 100 && v <= 599;
const isGrpcCode = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 16;

/**
 * The HTTP status an error carries: `status` / `statusCode` (fetch wrappers, gaxios), `response.status`
 * (gaxios, axios-style), or a numeric `code` in the HTTP range (@google-cloud/common ApiError used by
 * BigQuery and Storage). Numeric codes 0-16 are gRPC codes, handled separately; the ranges do not overlap.
 */
function httpStatusOf(err: Bag): number | undefined {
  for (const candidate of [err['status'], err['statusCode'], err['code']]) {
    if (isHttpStatus(candidate)) return candidate;
  }
  const response = err['response'];
  if (isBag(response)) {
    const status = response['status'] ?? response['statusCode'];
    if (isHttpStatus(status)) return status;
  }
  return undefined;
}

interface Neo4jShaped extends Bag {
  name: 'Neo4jError';
  code: string;
}
const isNeo4jShaped = (err: Bag): err is Neo4jShaped =>
  err['name'] === 'Neo4jError' && typeof err['code'] === 'string';

/**
 * The driver's own verdict (ServiceUnavailable, SessionExpired, Neo.TransientError.*, AuthorizationExpired
 * retryable; Neo.ClientError.* and the rest not). The driver is required here, not imported at the top:
 * an error with this shape means the driver is already loaded, and functions that never talk to Neo4j
 * should not pay for loading it just to classify errors.
 */
function isNeo4jRetryable(err: Neo4jShaped): boolean {
  const { isRetryableError } = require('neo4j-driver') as typeof import('neo4j-driver');
  if (isRetryableError(err)) return true;
  // A Neo4jError from a second copy of the driver fails `instanceof`; its constructor set `retryable` from the code.
  return err['retryable'] === true;
}

function ownRetryAfterMs(err: Bag, now: number): number | undefined {
  if (isGraphmillError(err)) {
    const seconds = err.retryAfterSeconds;
    return seconds !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
  }
  const response = err['response'];
  const header =
    (isBag(response) ? headerValue(response['headers'], 'retry-after') : undefined) ??
    headerValue(err['headers'], 'retry-after');
  return header === undefined ? undefined : parseRetryAfter(header, now);
}

/** `Retry-After: <delta-seconds>` or `Retry-After: <HTTP-date>` (RFC 9110 10.2.3), as ms from `now`. */
export function parseRetryAfter(value: string, now: number): number | undefined {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP-date always names a day or month; without this, Date.parse would read "-1" as a year.
  if (!/[A-Za-z]/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Reads a header from a fetch `Headers`, a Map, or a plain object (any key case). */
function headerValue(headers: unknown, name: string): string | undefined {
  if (!isBag(headers)) return undefined;
  const get = headers['get'];
  if (typeof get === 'function') {
    const v: unknown = (get as (key: string) => unknown).call(headers, name);
    return typeof v === 'string' ? v : undefined;
  }
  for (const [key, v] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  }
  return undefined;
}
