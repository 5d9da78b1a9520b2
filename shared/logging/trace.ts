import type { IncomingHttpHeaders } from 'node:http';

export const TRACE_KEY = 'logging.googleapis.com/trace';
export const SPAN_KEY = 'logging.googleapis.com/spanId';
export const SAMPLED_KEY = 'logging.googleapis.com/trace_sampled';

const CLOUD_TRACE = /^([0-9a-fA-F]{32})(?:\/(\d{1,20}))?(?:;o=([01]))?$/;
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The Cloud Logging trace fields for a request, from `X-Cloud-Trace-Context` (TRACE/SPAN;o=1) or W3C
 * `traceparent`, as `projects/<project>/traces/<id>` so Cloud Logging groups the request's entries.
 */
export function traceFields(
  headers: IncomingHttpHeaders,
  projectId: string | undefined,
): Record<string, unknown> {
  if (!projectId) return {};
  const cloud = header(headers, 'x-cloud-trace-context');
  const m = cloud ? CLOUD_TRACE.exec(cloud.trim()) : null;
  if (m) {
    return {
      [TRACE_KEY]: `projects/${projectId}/traces/${m[1]?.toLowerCase()}`,
      ...(m[2] ? { [SPAN_KEY]: BigInt(m[2]).toString(16).padStart(16, '0') } : {}),
      ...(m[3] ? { [SAMPLED_KEY]: m[3] === '1' } : {}),
    };
  }
  const parent = header(headers, 'traceparent');
  const w = parent ? TRACEPARENT.exec(parent.trim()) : null;
  if (w && w[2] !== '0'.repeat(32)) {
    return {
      [TRACE_KEY]: `projects/${projectId}/traces/${w[2]}`,
      [SPAN_KEY]: w[3],
      [SAMPLED_KEY]: (parseInt(w[4] ?? '0', 16) & 1) === 1,
    };
  }
  return {};
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
