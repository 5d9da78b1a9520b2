import { GraphmillError, toGraphmillError } from './index';

/** RFC 9457 problem details, plus the request id for correlation. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance: string;
  readonly requestId: string;
  readonly code: string;
  readonly retryable: boolean;
  readonly [extra: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'https://graphmill.dev/problems/';

/**
 * Bounds on what an answer or a log line repeats of a request, so that neither grows with the input: a
 * 40 KB submit_batch body with 10,000 invalid ids was answered with 1.6 MB and logged as 800 KB.
 */
export const MAX_LISTED_PROBLEMS = 20;
/** A value repeated from the input (an id, a path, a message) is cut to this many characters. */
export const MAX_ECHOED_CHARS = 200;
/** The whole `detail` of a problem, whatever built it. */
export const MAX_DETAIL_CHARS = 2000;

/** `value` cut to `max` characters, saying how many were left out. */
export function clip(value: string, max: number = MAX_ECHOED_CHARS): string {
  if (value.length <= max) return value;
  return `${value.slice(0, max)}... (${(value.length - max).toLocaleString('en-US')} more characters)`;
}

export interface BoundedList {
  /** The first MAX_LISTED_PROBLEMS items, each clipped. */
  readonly listed: string[];
  /** How many items were not listed. */
  readonly more: number;
}

/** `total`: how many items there are, when the caller passes only the first ones. */
export function boundedList(items: readonly string[], total: number = items.length): BoundedList {
  const listed = items.slice(0, MAX_LISTED_PROBLEMS).map((i) => clip(i));
  return { listed, more: Math.max(0, total - listed.length) };
}

/** "a; b; c ... and 9,980 more" (`separator` between the listed items). */
export function describeList(list: BoundedList, separator = '; '): string {
  const more = list.more > 0 ? ` ... and ${list.more.toLocaleString('en-US')} more` : '';
  return `${list.listed.join(separator)}${more}`;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

/**
 * Maps an error to problem+json. 500s never echo internal messages to the client: the detail is
 * generic and the real message goes to the log with the same requestId.
 */
export function toProblem(err: unknown, instance: string, requestId: string): ProblemDetails {
  const e: GraphmillError = toGraphmillError(err);
  const detail =
    e.status >= 500 && e.code === 'internal'
      ? 'Unexpected error; see logs for requestId.'
      : clip(e.message, MAX_DETAIL_CHARS);
  return {
    ...(e.details ?? {}),
    type: `${TYPE_BASE}${e.code}`,
    title: TITLES[e.status] ?? 'Error',
    status: e.status,
    detail,
    // The request's path, as the client sent it: up to Node's 16 KB of headers.
    instance: clip(instance),
    requestId,
    code: e.code,
    retryable: e.retryable,
  };
}
