/**
 * One error type for the whole pipeline. Every failure carries a stable `code`, the HTTP status it maps
 * to, whether retrying can help (`retryable`), and the original `cause`. Retry decisions read
 * `retryable`, never message text.
 */

export const ERROR_CODES = [
  'bad_request',
  'not_found',
  'method_not_allowed',
  'lease_conflict',
  'lease_lost',
  'content_too_large',
  'unsupported_media_type',
  'unsupported_content',
  'source_forbidden',
  'dependency_unavailable',
  'dependency_timeout',
  'config_invalid',
  'repeated_failure',
  'state_store_full',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface GraphmillErrorOptions {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly cause?: unknown;
  /** Seconds a client should wait before retrying (503, 429 style answers). */
  readonly retryAfterSeconds?: number;
  /** Extra, non-secret fields for problem+json and logs. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export class GraphmillError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(message: string, options: GraphmillErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GraphmillError';
    this.code = options.code;
    this.status = options.status;
    this.retryable = options.retryable;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
  }
}

export const isGraphmillError = (err: unknown): err is GraphmillError => err instanceof GraphmillError;

type Extra = Omit<Partial<GraphmillErrorOptions>, 'code' | 'status' | 'retryable'>;
const make =
  (code: ErrorCode, status: number, retryable: boolean) =>
  (message: string, extra: Extra = {}): GraphmillError =>
    new GraphmillError(message, { ...extra, code, status, retryable });

/** Input that can never succeed as sent: fix the request, do not retry. */
export const badRequest = make('bad_request', 400, false);
export const notFound = make('not_found', 404, false);
export const methodNotAllowed = make('method_not_allowed', 405, false);
/** Another run holds a live lease on the document; retrying later can succeed. */
export const leaseConflict = make('lease_conflict', 409, true);
/** This run's lease was taken over after it expired: stop writing, the new owner finishes. */
export const leaseLost = make('lease_lost', 409, true);

/** Another run holds the document now: final for this run, whatever the retry policy. */
export const isLeaseLost = (err: unknown): err is GraphmillError =>
  isGraphmillError(err) && err.code === 'lease_lost';
export const contentTooLarge = make('content_too_large', 413, false);
export const unsupportedMediaType = make('unsupported_media_type', 415, false);
/** Binary, undecodable or otherwise unsupported document content. */
export const unsupportedContent = make('unsupported_content', 422, false);
/** A source outside what this deployment may read (file:// outside the root, private address, ...). */
export const sourceForbidden = make('source_forbidden', 422, false);
export const dependencyUnavailable = make('dependency_unavailable', 503, true);
export const dependencyTimeout = make('dependency_timeout', 503, true);
export const configInvalid = make('config_invalid', 500, false);
/**
 * A document whose write failed the same way on consecutive attempts, each time while its statement was
 * running: retrying it again would only repeat the failure (or take the server down again).
 */
export const repeatedFailure = make('repeated_failure', 422, false);

/** The same error with more details (details are part of what is recorded and logged). */
export const withDetails = (
  err: GraphmillError,
  details: Readonly<Record<string, unknown>>,
): GraphmillError =>
  new GraphmillError(err.message, {
    code: err.code,
    status: err.status,
    retryable: err.retryable,
    ...(err.cause !== undefined ? { cause: err.cause } : {}),
    ...(err.retryAfterSeconds !== undefined ? { retryAfterSeconds: err.retryAfterSeconds } : {}),
    details: { ...err.details, ...details },
  });

/**
 * The embedded state store's disk is full. Retryable, since nothing is wrong with the document: the same
 * work succeeds once there is room. A property of the machine, so a run stops on it (see isStateStoreFull).
 */
export const stateStoreFull = make('state_store_full', 507, true);

/** No later document can be recorded either: the run stops and releases what it holds. */
export const isStateStoreFull = (err: unknown): err is GraphmillError =>
  isGraphmillError(err) && err.code === 'state_store_full';
export const internalError = make('internal', 500, false);

/** Wraps anything thrown into a GraphmillError; unknown errors are bugs (500, not retryable). */
export function toGraphmillError(err: unknown): GraphmillError {
  if (isGraphmillError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return internalError(message, { cause: err });
}
