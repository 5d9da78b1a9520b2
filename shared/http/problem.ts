import type { ServerResponse } from 'node:http';
import { PROBLEM_CONTENT_TYPE, toProblem, type ProblemDetails } from '../errors/problem';
import { toGraphmillError } from '../errors';

/** Writes an error as application/problem+json, with Retry-After when the error carries one. */
export function sendProblem(
  res: ServerResponse,
  err: unknown,
  instance: string,
  requestId: string,
  headers: Readonly<Record<string, string>> = {},
): ProblemDetails {
  const e = toGraphmillError(err);
  const problem = toProblem(e, instance, requestId);
  const body = JSON.stringify(problem);
  res.statusCode = problem.status;
  res.setHeader('Content-Type', PROBLEM_CONTENT_TYPE);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('X-Request-ID', requestId);
  if (e.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(e.retryAfterSeconds));
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(body);
  return problem;
}
