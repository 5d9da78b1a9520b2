/**
 * The log-based metrics in infrastructure/monitoring/metrics read fields of the JSON the functions log.
 * This keeps them in step: each metric's filter and extractors are evaluated against entries produced by
 * the real JSON logger for the events the metric counts.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeLogger } from '../../../shared/logging';

const DIR = join(__dirname, '..', '..', '..', 'infrastructure', 'monitoring', 'metrics');

interface Metric {
  name: string;
  filter: string;
  valueExtractor?: string;
  labelExtractors?: Record<string, string>;
}

/** What Cloud Logging stores as jsonPayload: the line minus the fields it lifts into the LogEntry. */
function jsonPayload(line: Record<string, unknown>): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(line)) {
    if (
      k === 'severity' ||
      k === 'timestamp' ||
      k === 'logName' ||
      k === 'resource' ||
      k.startsWith('logging.googleapis.com/')
    )
      continue;
    payload[k] = v;
  }
  return payload;
}

const get = (obj: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>(
      (o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined),
      obj,
    );

/** Evaluates the subset of the logging query language the metrics use: AND of =, :* and severity. */
function matches(
  filter: string,
  entry: { severity: string; jsonPayload: Record<string, unknown>; resourceType: string },
): boolean {
  return filter.split(' AND ').every((clause) => {
    const c = clause.trim();
    let m = /^resource\.type="(.+)"$/.exec(c);
    if (m) return entry.resourceType === m[1];
    m = /^severity=(\w+)$/.exec(c);
    if (m) return entry.severity === m[1];
    m = /^jsonPayload\.([\w.]+):\*$/.exec(c);
    if (m) return get(entry.jsonPayload, m[1] ?? '') !== undefined;
    m = /^jsonPayload\.([\w.]+)="(.*)"$/.exec(c);
    if (m) return get(entry.jsonPayload, m[1] ?? '') === m[2];
    throw new Error(`clause not understood by this test: ${c}`);
  });
}

function entriesFrom(log: (l: ReturnType<typeof makeLogger>) => void) {
  const out: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  try {
    log(makeLogger({ level: 'debug', format: 'json', projectId: 'p', base: { function: 'ingestEvent' } }));
  } finally {
    spy.mockRestore();
  }
  return out
    .join('')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['message'] !== undefined)
    .map((l) => ({
      severity: String(l['severity']),
      jsonPayload: jsonPayload(l),
      resourceType: 'cloud_run_revision',
    }));
}

/** The log calls the pipeline makes for each metric (same messages and fields as the product code). */
const EXAMPLES: Record<string, (l: ReturnType<typeof makeLogger>) => void> = {
  graphmill_documents_failed: (l) =>
    l.error('document failed', {
      documentId: 'd',
      stage: 'writing',
      code: 'dependency_unavailable',
      retryable: true,
    }),
  graphmill_dead_letters: (l) =>
    l.warn('dead letter written', {
      deadLetterId: 'x',
      documentId: 'd',
      code: 'unsupported_content',
      attempts: 1,
    }),
  graphmill_tracking_critical: (l) =>
    l.critical('completion lost: neither Firestore nor BigQuery recorded it', { documentId: 'd' }),
  graphmill_stage_duration: (l) => l.info('stage writing done', { stage: 'writing', durationMs: 42 }),
};

const metrics = readdirSync(DIR).map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Metric);

it('has an example log call for every metric', () => {
  expect(metrics.map((m) => m.name).sort()).toEqual(Object.keys(EXAMPLES).sort());
});

it.each(metrics.map((m) => [m.name, m] as const))(
  '%s matches the logged entry and extracts its fields',
  (name, metric) => {
    const example = EXAMPLES[name];
    if (!example) throw new Error(`no example for ${name}`);
    const [entry] = entriesFrom(example);
    if (!entry) throw new Error('nothing logged');
    expect(matches(metric.filter, entry)).toBe(true);
    const extractors = {
      ...(metric.labelExtractors ?? {}),
      ...(metric.valueExtractor ? { value: metric.valueExtractor } : {}),
    };
    for (const [label, extractor] of Object.entries(extractors)) {
      const path = /^EXTRACT\(jsonPayload\.([\w.]+)\)$/.exec(extractor)?.[1];
      expect({ label, path }).toEqual({ label, path: expect.any(String) });
      expect({ label, value: get(entry.jsonPayload, path ?? '') }).toEqual({
        label,
        value: expect.anything(),
      });
    }
    // and an unrelated entry does not count
    const [other] = entriesFrom((l) => l.info('document completed', { documentId: 'd', chunkCount: 3 }));
    if (other) expect(matches(metric.filter, other)).toBe(false);
  },
);
