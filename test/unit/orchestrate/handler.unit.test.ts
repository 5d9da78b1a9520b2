/**
 * The orchestrate HTTP function through the real functions-framework server (supertest), with the
 * in-memory status store and graph writer. Every error must be problem+json with the right status,
 * and no rejected request may write anything.
 */
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { inlineSource, makeSourceRouter } from '../../../shared/documents';
import type { DocumentSource } from '../../../shared/ports/document-source';
import { dependencyUnavailable } from '../../../shared/errors';
import { installBodyErrorProblems } from '../../../shared/http/body-errors';
import { REQUEST_BYTES_CEILING } from '../../../shared/http/limits';
import { silentLogger } from '../../../shared/logging';
import { runDocument, type PipelineDeps } from '../../../shared/pipeline';
import { InMemoryStatusStore } from '../../../shared/adapters/memory/status-store';
import { makeOrchestrateHandler } from '../../../functions/orchestrate/handler';
import { MemoryGraphWriter } from '../../../shared/adapters/memory/graph-writer';

const bytesSource: DocumentSource = {
  schemes: ['test:'],
  fetch: (record) =>
    Promise.resolve(
      record.source === 'test:binary'
        ? Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01])
        : Uint8Array.from([0x68, 0x69, 0xc3, 0x28]), // "hi" + an invalid UTF-8 sequence
    ),
};

let status: InMemoryStatusStore;
let graph: MemoryGraphWriter;
let now = 1_700_000_000_000;

functions.http(
  'orchestrate-under-test',
  // The pipeline reads the current status/graph at call time, so each test's fresh stores are used.
  (req, res) => {
    const pipeline: PipelineDeps = {
      status,
      graph,
      source: makeSourceRouter([inlineSource, bytesSource]),
      clock: () => now,
      logger: silentLogger,
      settings: { chunkSize: 20, chunkOverlap: 5, leaseMs: 60_000, maxDocumentBytes: 1000 },
    };
    // Without the recording use cases: the document run alone, and no submit_batch.
    return makeOrchestrateHandler({
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
      logger: silentLogger,
      maxRequestBytes: 1024,
    })(req, res);
  },
);
installBodyErrorProblems();
const server = () => getTestServer('orchestrate-under-test');

const TEXT = 'Graphmill turns documents into graphs.\n\nEach chunk knows where it came from.';

beforeEach(async () => {
  status = new InMemoryStatusStore();
  graph = new MemoryGraphWriter();
  await status.register({ id: 'doc-1', source: 'inline:', content: TEXT }, now);
});

const post = (body: unknown) =>
  request(server()).post('/').set('Content-Type', 'application/json').send(JSON.stringify(body));

function expectProblem(res: request.Response, statusCode: number, code: string): void {
  expect(res.status).toBe(statusCode);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status: statusCode, code, type: expect.stringContaining(code) });
  expect(typeof res.body.title).toBe('string');
  expect(typeof res.body.detail).toBe('string');
  expect(typeof res.body.instance).toBe('string');
  expect(res.body.requestId).toBe(res.headers['x-request-id']);
}

describe('orchestrate: success', () => {
  it('processes a document from the snake_case body and reports a summary', async () => {
    const res = await post({ document_id: 'doc-1', action: 'process_document' }).set(
      'X-Request-ID',
      'req-42',
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'completed', documentId: 'doc-1', requestId: 'req-42' });
    expect(res.body.chunkCount).toBeGreaterThan(1);
    expect(res.headers['x-request-id']).toBe('req-42');
    expect(graph.writes).toBe(1);
    expect(await status.get('doc-1')).toMatchObject({ status: 'completed', chunkCount: res.body.chunkCount });
  });

  it('accepts camelCase, reports unchanged on a re-run, and rewrites on reprocess_document', async () => {
    await post({ documentId: 'doc-1' }).expect(200);
    const again = await post({ documentId: 'doc-1', action: 'process_document' });
    expect(again.body.status).toBe('unchanged');
    expect(graph.writes).toBe(1);
    const forced = await post({ document_id: 'doc-1', action: 'reprocess_document' });
    expect(forced.body.status).toBe('completed');
    expect(graph.writes).toBe(2);
  });

  it('new content costs the graph one write and no read; a re-run of unchanged content one read and no write', async () => {
    const reads = jest.spyOn(graph, 'currentVersion');
    const writes = jest.spyOn(graph, 'writeDocument');
    const progress = jest.spyOn(status, 'progress');
    await post({ document_id: 'doc-1' }).expect(200);
    expect([reads.mock.calls.length, writes.mock.calls.length]).toEqual([0, 1]);

    // The status record remembers the hash the last run wrote: one read of the graph confirms it.
    const again = await post({ document_id: 'doc-1' });
    expect(again.body).toMatchObject({
      status: 'unchanged',
      chunkCount: graph.documents.get('doc-1')?.chunks.length,
    });
    expect([reads.mock.calls.length, writes.mock.calls.length]).toEqual([1, 1]);
    // The stages an operator sees: fetching and writing for new content, only fetching for a re-run; a
    // document of one batch records no progress steps in between, the completion records the end.
    expect(progress.mock.calls.map((c) => `${c[2]} ${c[3]}`)).toEqual([
      'fetching 0',
      'writing 0',
      'fetching 0',
    ]);
    expect(await status.get('doc-1')).toMatchObject({ status: 'completed', progress: 100 });
  });

  it('decides "unchanged" in the write when the status store does not remember the content', async () => {
    await post({ document_id: 'doc-1' }).expect(200);
    // A fresh status store (its state lost, or the document registered anew elsewhere): the graph still
    // holds the content, and the write finds it under the document's lock.
    status = new InMemoryStatusStore();
    await status.register({ id: 'doc-1', source: 'inline:', content: TEXT }, now);
    const reads = jest.spyOn(graph, 'currentVersion');
    const again = await post({ document_id: 'doc-1' });
    expect(again.body.status).toBe('unchanged');
    expect(reads).not.toHaveBeenCalled();
    expect(graph.writes).toBe(1);
  });

  it('deletes a document; it is unknown afterwards', async () => {
    await post({ document_id: 'doc-1' }).expect(200);
    const res = await post({ document_id: 'doc-1', action: 'delete_document' });
    expect(res.body).toMatchObject({ status: 'deleted', documentId: 'doc-1' });
    expect(graph.documents.has('doc-1')).toBe(false);
    expectProblem(await post({ document_id: 'doc-1' }), 404, 'not_found');
  });
});

describe('orchestrate: every bad request is problem+json and writes nothing', () => {
  afterEach(async () => {
    expect(graph.writes).toBe(0);
    expect((await status.get('doc-1'))?.status).toBe('pending');
  });

  it('405 for a wrong method, with Allow', async () => {
    const res = await request(server()).get('/');
    expectProblem(res, 405, 'method_not_allowed');
    expect(res.headers['allow']).toBe('POST');
  });

  it('415 for a wrong content type', async () => {
    const res = await request(server()).post('/').set('Content-Type', 'text/plain').send('document_id=doc-1');
    expectProblem(res, 415, 'unsupported_media_type');
  });

  it.each(['gzip', 'deflate', 'br', 'x-evil'])(
    '415 for a %s-encoded body, refused before it is read or inflated',
    async (encoding) => {
      const body = encoding === 'gzip' ? gzipSync('{"document_id":"doc-1"}') : Buffer.from('compressed?');
      const res = await request(server())
        .post('/')
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', encoding)
        .send(body);
      expectProblem(res, 415, 'unsupported_media_type');
      expect(res.body.detail).toContain(encoding);
    },
  );

  it('413 for a declared Content-Length above the ceiling, answered without reading the body', async () => {
    const srv = server();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
    const { port } = srv.address() as AddressInfo;
    try {
      const answer = await new Promise<{ status: number; type: string }>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/',
            headers: { 'content-type': 'application/json', 'content-length': REQUEST_BYTES_CEILING + 1 },
          },
          (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']) });
            req.destroy();
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code !== 'ECONNRESET') reject(err);
        });
        req.write('{"document_id":'); // a little of the promised body, and never the rest
      });
      expect(answer).toEqual({ status: 413, type: expect.stringMatching(/^application\/problem\+json/) });
    } finally {
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });

  it('identity encoding is accepted like no encoding', async () => {
    const res = await request(server())
      .post('/')
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'identity')
      .send(JSON.stringify({ document_id: 'nope' }));
    expectProblem(res, 404, 'not_found');
  });

  it('400 for malformed JSON', async () => {
    const res = await request(server())
      .post('/')
      .set('Content-Type', 'application/json')
      .send('{"document_id": ');
    expectProblem(res, 400, 'bad_request');
  });

  it('400 for an empty body', async () => {
    const res = await request(server()).post('/').set('Content-Type', 'application/json').send('');
    expectProblem(res, 400, 'bad_request');
  });

  it.each([
    ['a missing id', { action: 'process_document' }],
    ['an unknown action', { document_id: 'doc-1', action: 'explode' }],
    ['a numeric id', { document_id: 42 }],
    ['an id with Cypher in it', { document_id: "x'}) DETACH DELETE n //" }],
    ['an over-long id', { document_id: 'x'.repeat(300) }],
    ['disagreeing ids', { document_id: 'doc-1', documentId: 'doc-2' }],
    ['a JSON array', [{ document_id: 'doc-1' }]],
    ['a JSON string', 'doc-1'],
  ])('400 for %s', async (_name, body) => {
    expectProblem(await post(body), 400, 'bad_request');
  });

  it('413 for an oversized body', async () => {
    const res = await post({ document_id: 'doc-1', padding: 'x'.repeat(5000) });
    expectProblem(res, 413, 'content_too_large');
  });

  it('404 for an unknown document', async () => {
    expectProblem(await post({ document_id: 'nope' }), 404, 'not_found');
  });
});

describe('orchestrate: content and dependency failures', () => {
  it('409 while another run holds the lease; the holder is untouched', async () => {
    await status.claim('doc-1', { owner: 'someone-else', leaseMs: 60_000, now });
    const res = await post({ document_id: 'doc-1' });
    expectProblem(res, 409, 'lease_conflict');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(await status.get('doc-1')).toMatchObject({
      status: 'processing',
      leaseOwner: 'someone-else',
      attempt: 1,
    });
    expect(graph.writes).toBe(0);
  });

  it.each([
    ['binary content', 'test:binary'],
    ['invalid UTF-8', 'test:invalid-utf8'],
  ])('422 for %s, recorded as a permanent failure, nothing written', async (_name, source) => {
    await status.register({ id: 'doc-bin', source }, now);
    const res = await post({ document_id: 'doc-bin' });
    expectProblem(res, 422, 'unsupported_content');
    expect(graph.writes).toBe(0);
    expect(await status.get('doc-bin')).toMatchObject({
      status: 'failed',
      error: { code: 'unsupported_content', retryable: false, stage: 'chunking' },
    });
  });

  it('413 for content above the document size limit', async () => {
    await status.register({ id: 'big', source: 'inline:', content: 'x'.repeat(2000) }, now);
    expectProblem(await post({ document_id: 'big' }), 413, 'content_too_large');
    expect(await status.get('big')).toMatchObject({ status: 'failed', error: { stage: 'fetching' } });
  });

  it('503 with Retry-After when Neo4j is unavailable, recorded as retryable', async () => {
    graph.failWith = dependencyUnavailable('Neo4j is unavailable', { retryAfterSeconds: 30 });
    const res = await post({ document_id: 'doc-1' });
    expectProblem(res, 503, 'dependency_unavailable');
    expect(res.headers['retry-after']).toBe('30');
    expect(await status.get('doc-1')).toMatchObject({
      status: 'failed',
      error: { retryable: true, stage: 'writing' },
    });
  });

  it('500 for a bug, without leaking the internal message', async () => {
    graph.failWith = new TypeError('cannot read properties of undefined (secret internals)');
    const res = await post({ document_id: 'doc-1' });
    expectProblem(res, 500, 'internal');
    expect(JSON.stringify(res.body)).not.toContain('secret internals');
  });

  it('a later success clears the recorded error', async () => {
    graph.failWith = dependencyUnavailable('down');
    await post({ document_id: 'doc-1' }).expect(503);
    graph.failWith = undefined;
    now += 1000;
    await post({ document_id: 'doc-1' }).expect(200);
    const r = await status.get('doc-1');
    expect(r?.status).toBe('completed');
    expect(r?.error).toBeUndefined();
    expect(r?.attempt).toBe(2);
  });
});
