import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The caller's X-Request-ID when it is sane, else a new one; echoed back on every answer. */
export function requestIdFrom(headers: IncomingHttpHeaders): string {
  const h = headers['x-request-id'];
  return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID();
}
