/**
 * The JSON logs as Cloud Logging receives them (the real @google-cloud/logging-winston transport with
 * redirectToStdout), captured from stdout and parsed line by line.
 */
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import { inlineSource, makeSourceRouter } from '../../../shared/documents';
import { makeLogger, traceFields } from '../../../shared/logging';
import { runDocument, type PipelineDeps } from '../../../shared/pipeline';
import { secretRegistry } from '../../../shared/secrets';
import { InMemoryStatusStore } from '../../../shared/adapters/memory/status-store';
import { makeOrchestrateHandler } from '../../../functions/orchestrate/handler';
import { MemoryGraphWriter } from '../../../shared/adapters/memory/graph-writer';

const SECRET = 'neo4j-pw-Xq7!zz19';
let out: string[] = [];

beforeEach(() => {
  out = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
});
afterEach(() => jest.restoreAllMocks());

const lines = (): Record<string, unknown>[] =>
  out
    .join('')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['message'] !== undefined);

it('every entry of a request carries severity, function, requestId, trace and stage durations', async () => {
  const logger = makeLogger({
    level: 'debug',
    format: 'json',
    projectId: 'demo-project',
    base: { function: 'orchestrate' },
  });
  const status = new InMemoryStatusStore();
  await status.register(
    { id: 'doc-1', source: 'inline:', content: 'One sentence. Another one.\n\nA paragraph.' },
    0,
  );
  const pipeline: PipelineDeps = {
    status,
    graph: new MemoryGraphWriter(),
    source: makeSourceRouter([inlineSource]),
    clock: () => Date.now(),
    logger,
    settings: { chunkSize: 20, chunkOverlap: 4, leaseMs: 60_000, maxDocumentBytes: 1000 },
  };
  functions.http(
    'orchestrate-logs',
    makeOrchestrateHandler({
      // The document run alone, without the recording use cases.
      ingest: {
        runAndRecord: (r, o) =>
          runDocument(
            { ...pipeline, ...(o?.logger ? { logger: o.logger } : {}) },
            {
              documentId: r.documentId,
              action: r.action,
            },
          ),
      },
      clock: pipeline.clock,
      logger,
      maxRequestBytes: 1024,
      projectId: 'demo-project',
    }),
  );
  const res = await request(getTestServer('orchestrate-logs'))
    .post('/')
    .set('Content-Type', 'application/json')
    .set('X-Request-ID', 'req-77')
    .set('X-Cloud-Trace-Context', '0af7651916cd43dd8448eb211c80319c/12345;o=1')
    .send({ document_id: 'doc-1' });
  expect(res.status).toBe(200);

  const entries = lines();
  expect(entries.length).toBeGreaterThanOrEqual(3);
  for (const e of entries) {
    expect(e['severity']).toMatch(/^(DEBUG|INFO|NOTICE|WARNING|ERROR|CRITICAL)$/);
    expect(e['logging.googleapis.com/trace']).toBe(
      'projects/demo-project/traces/0af7651916cd43dd8448eb211c80319c',
    );
    expect(e['metadata']).toMatchObject({
      function: 'orchestrate',
      requestId: 'req-77',
      documentId: 'doc-1',
    });
  }
  const stages = entries.filter((e) => (e['metadata'] as Record<string, unknown>)['stage'] !== undefined);
  expect(stages.map((e) => (e['metadata'] as Record<string, unknown>)['stage'])).toEqual(
    expect.arrayContaining(['fetching', 'writing', 'recording']),
  );
  for (const s of stages)
    expect(typeof (s['metadata'] as Record<string, unknown>)['durationMs']).toBe('number');
});

describe('traceFields', () => {
  it('reads X-Cloud-Trace-Context', () => {
    expect(
      traceFields({ 'x-cloud-trace-context': '0AF7651916CD43DD8448EB211C80319C/255;o=1' }, 'p1'),
    ).toEqual({
      'logging.googleapis.com/trace': 'projects/p1/traces/0af7651916cd43dd8448eb211c80319c',
      'logging.googleapis.com/spanId': '00000000000000ff',
      'logging.googleapis.com/trace_sampled': true,
    });
  });
  it('reads W3C traceparent', () => {
    expect(
      traceFields({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }, 'p1'),
    ).toEqual({
      'logging.googleapis.com/trace': 'projects/p1/traces/4bf92f3577b34da6a3ce929d0e0e4736',
      'logging.googleapis.com/spanId': '00f067aa0ba902b7',
      'logging.googleapis.com/trace_sampled': true,
    });
  });
  it('ignores malformed headers and needs a project', () => {
    expect(traceFields({ traceparent: '00-zz-00-01' }, 'p1')).toEqual({});
    expect(traceFields({ 'x-cloud-trace-context': 'not-a-trace' }, 'p1')).toEqual({});
    expect(
      traceFields({ 'x-cloud-trace-context': '0af7651916cd43dd8448eb211c80319c/1;o=1' }, undefined),
    ).toEqual({});
  });
});

it('masks every secret value read and every password-shaped field, in messages and fields', () => {
  secretRegistry.remember(SECRET);
  const logger = makeLogger({
    level: 'debug',
    format: 'json',
    projectId: 'demo-project',
    base: { function: 'orchestrate' },
  });
  logger.error(`connect to bolt://neo4j:${SECRET}@db failed`, {
    password: 'plain-password-field',
    authorization: 'Bearer abc.def.ghi',
    slackWebhook: 'https://hooks.slack.com/services/T000/B000/XXXX',
    nested: { apiKey: 'AIza-something-long', detail: `the secret ${SECRET} leaked into a detail` },
    error: new Error(`driver said ${SECRET}`),
  });
  logger.critical('both stores failed', { cause: { message: encodeURIComponent(SECRET) } });
  const text = out.join('');
  expect(lines()).toHaveLength(2);
  for (const leaked of [
    SECRET,
    encodeURIComponent(SECRET),
    'plain-password-field',
    'abc.def.ghi',
    'XXXX',
    'AIza-something-long',
  ]) {
    expect(text).not.toContain(leaked);
  }
  expect(text).toContain('[REDACTED]');
  expect(lines()[1]).toMatchObject({ severity: 'CRITICAL' });
});

it('does not format a disabled level: no redaction runs, a throwing field is never read', () => {
  const logger = makeLogger({ level: 'warning', format: 'json', projectId: 'demo-project' });
  const redact = jest.spyOn(secretRegistry, 'redactFields');
  const explosive = Object.defineProperty({}, 'detail', {
    enumerable: true,
    get: () => {
      throw new Error('a field of a disabled level was read');
    },
  });

  expect(() => logger.info('x', explosive)).not.toThrow();
  expect(() => logger.debug('x', explosive)).not.toThrow();
  expect(redact).not.toHaveBeenCalled();
  expect(lines()).toEqual([]);

  logger.warn('kept', { detail: 'ordinary' });
  expect(redact).toHaveBeenCalled();
  expect(lines()).toHaveLength(1);
  expect(lines()[0]).toMatchObject({
    severity: 'WARNING',
    message: 'kept',
    metadata: { detail: 'ordinary' },
  });
});
