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
    e.status >= 500 && e.code === 'internal' ? 'Unexpected error; see logs for requestId.' : e.message;
  return {
    ...(e.details ?? {}),
    type: `${TYPE_BASE}${e.code}`,
    title: TITLES[e.status] ?? 'Error',
    status: e.status,
    detail,
    instance,
    requestId,
    code: e.code,
    retryable: e.retryable,
  };
}
