import { Neo4jError } from 'neo4j-driver';
import { badRequest, dependencyUnavailable, GraphmillError, internalError } from '../../../shared/errors';
import {
  MAX_RETRY_AFTER_MS,
  errorCodeOf,
  isRetryable,
  parseRetryAfter,
  retryAfterMs,
} from '../../../shared/resilience';

const neo4jError = (code: string): Neo4jError =>
  new Neo4jError(`neo4j ${code}`, code, '50N42', 'error: general processing exception');

describe('isRetryable', () => {
  describe('HTTP-shaped errors', () => {
    it.each([
      [429, true],
      [500, true],
      [502, true],
      [503, true],
      [504, true],
      [408, true],
      [501, false],
      [505, false],
      [400, false],
      [401, false],
      [403, false],
      [404, false],
      [409, false],
      [422, false],
    ])('status %i -> %s', (status, expected) => {
      expect(isRetryable({ status })).toBe(expected);
      expect(isRetryable({ statusCode: status })).toBe(expected);
      expect(isRetryable({ response: { status } })).toBe(expected);
      // @google-cloud/common ApiError (BigQuery, Storage) puts the HTTP status in a numeric `code`.
      expect(isRetryable(Object.assign(new Error('api'), { code: status }))).toBe(expected);
    });

    it('prefers the HTTP status over a string code (gaxios carries both)', () => {
      expect(isRetryable({ code: 'ERR_BAD_REQUEST', response: { status: 503 } })).toBe(true);
      expect(isRetryable({ code: 'ECONNRESET', status: 400 })).toBe(false);
    });
  });

  describe('gRPC status codes', () => {
    it.each([
      [4, 'DEADLINE_EXCEEDED', true],
      [8, 'RESOURCE_EXHAUSTED', true],
      [10, 'ABORTED', true],
      [13, 'INTERNAL', true],
      [14, 'UNAVAILABLE', true],
      [1, 'CANCELLED', false],
      [2, 'UNKNOWN', false],
      [3, 'INVALID_ARGUMENT', false],
      [5, 'NOT_FOUND', false],
      [6, 'ALREADY_EXISTS', false],
      [7, 'PERMISSION_DENIED', false],
      [9, 'FAILED_PRECONDITION', false],
      [12, 'UNIMPLEMENTED', false],
      [16, 'UNAUTHENTICATED', false],
    ])('code %i (%s) -> %s', (code, name, expected) => {
      const err = Object.assign(new Error(`${code} ${name}: details`), { code, details: 'x', metadata: {} });
      expect(isRetryable(err)).toBe(expected);
      expect(errorCodeOf(err)).toBe(`grpc_${name}`);
    });
  });

  describe('Node and undici network errors', () => {
    it.each([
      ['ECONNRESET', true],
      ['ECONNREFUSED', true],
      ['ETIMEDOUT', true],
      ['EPIPE', true],
      ['EAI_AGAIN', true],
      ['EHOSTUNREACH', true],
      ['UND_ERR_SOCKET', true],
      ['UND_ERR_CONNECT_TIMEOUT', true],
      ['UND_ERR_HEADERS_TIMEOUT', true],
      ['UND_ERR_BODY_TIMEOUT', true],
      // A missing host is configuration, not weather.
      ['ENOTFOUND', false],
      ['UND_ERR_ABORTED', false],
      ['UND_ERR_INVALID_ARG', false],
      ['ERR_INVALID_URL', false],
    ])('%s -> %s', (code, expected) => {
      expect(isRetryable(Object.assign(new Error('socket'), { code }))).toBe(expected);
    });

    it('follows cause: fetch throws TypeError("fetch failed") with the socket error inside', () => {
      const fetchFailed = new TypeError('fetch failed', {
        cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
      });
      expect(isRetryable(fetchFailed)).toBe(true);
      expect(errorCodeOf(fetchFailed)).toBe('UND_ERR_SOCKET');
    });

    it('treats a TimeoutError (AbortSignal.timeout) as retryable and an AbortError (caller cancelled) as not', () => {
      expect(isRetryable(new DOMException('timed out', 'TimeoutError'))).toBe(true);
      expect(isRetryable(new DOMException('aborted', 'AbortError'))).toBe(false);
    });
  });

  describe('Neo4j driver errors', () => {
    it.each([
      ['ServiceUnavailable', true],
      ['SessionExpired', true],
      ['Neo.TransientError.Transaction.DeadlockDetected', true],
      ['Neo.TransientError.General.DatabaseUnavailable', true],
      ['Neo.ClientError.Statement.SyntaxError', false],
      ['Neo.ClientError.Security.Unauthorized', false],
      ['Neo.ClientError.Schema.ConstraintValidationFailed', false],
      ['Neo.DatabaseError.General.UnknownError', false],
    ])('%s -> %s', (code, expected) => {
      const err = neo4jError(code);
      expect(isRetryable(err)).toBe(expected);
      expect(errorCodeOf(err)).toBe(code);
    });

    it('classifies a Neo4jError from another copy of the driver by its code-derived `retryable`', () => {
      const foreign = Object.assign(new Error('x'), {
        name: 'Neo4jError',
        code: 'SessionExpired',
        retryable: true,
      });
      expect(isRetryable(foreign)).toBe(true);
    });
  });

  describe('GraphmillError', () => {
    it('answers with its own `retryable`, whatever it wraps', () => {
      expect(isRetryable(dependencyUnavailable('firestore down'))).toBe(true);
      expect(isRetryable(badRequest('no document_id'))).toBe(false);
      expect(isRetryable(internalError('bug', { cause: { status: 503 } }))).toBe(false);
      expect(errorCodeOf(dependencyUnavailable('x'))).toBe('dependency_unavailable');
    });
  });

  it('never reads message text, and treats unknown errors as permanent', () => {
    expect(isRetryable(new Error('ECONNRESET 503 Service Unavailable, please retry'))).toBe(false);
    expect(isRetryable('503')).toBe(false);
    expect(isRetryable(undefined)).toBe(false);
    expect(isRetryable(null)).toBe(false);
    expect(isRetryable({ status: '503' })).toBe(false);
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');

  it('reads retryAfterSeconds from a GraphmillError', () => {
    expect(retryAfterMs(dependencyUnavailable('busy', { retryAfterSeconds: 7 }), now)).toBe(7000);
    expect(retryAfterMs(dependencyUnavailable('busy'), now)).toBeUndefined();
  });

  it('reads a Retry-After header in seconds from a plain-object, fetch Headers or Map response', () => {
    expect(
      retryAfterMs({ status: 429, response: { status: 429, headers: { 'Retry-After': '3' } } }, now),
    ).toBe(3000);
    expect(
      retryAfterMs({ response: { status: 429, headers: new Headers({ 'retry-after': '4' }) } }, now),
    ).toBe(4000);
    expect(retryAfterMs({ response: { headers: new Map([['retry-after', '5']]) } }, now)).toBe(5000);
    expect(retryAfterMs({ status: 429, headers: { 'retry-after': ['6'] } }, now)).toBe(6000);
  });

  it('reads an HTTP-date relative to the injected now (never negative)', () => {
    const at = new Date(now + 90_000).toUTCString();
    expect(retryAfterMs({ response: { headers: { 'retry-after': at } } }, now)).toBe(90_000);
    const past = new Date(now - 5_000).toUTCString();
    expect(retryAfterMs({ response: { headers: { 'retry-after': past } } }, now)).toBe(0);
  });

  it('caps absurd values and ignores garbage', () => {
    expect(retryAfterMs({ response: { headers: { 'retry-after': '86400' } } }, now)).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs({ response: { headers: { 'retry-after': 'soon' } } }, now)).toBeUndefined();
    expect(retryAfterMs({ response: { headers: { 'retry-after': '-1' } } }, now)).toBeUndefined();
    expect(retryAfterMs({ status: 429 }, now)).toBeUndefined();
    expect(retryAfterMs('429', now)).toBeUndefined();
  });

  it('finds the header on a wrapped cause', () => {
    const upstream = { status: 429, response: { status: 429, headers: { 'retry-after': '2' } } };
    const wrapped = new GraphmillError('slack rate limited', {
      code: 'dependency_unavailable',
      status: 503,
      retryable: true,
      cause: upstream,
    });
    expect(retryAfterMs(wrapped, now)).toBe(2000);
  });

  it('parseRetryAfter accepts delta-seconds with whitespace', () => {
    expect(parseRetryAfter(' 12 ', now)).toBe(12_000);
  });
});
