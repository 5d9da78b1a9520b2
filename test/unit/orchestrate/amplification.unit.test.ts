/**
 * An answer or a log line never grows with the input it refuses: validation problems are listed up to
 * MAX_LISTED_PROBLEMS with a count of the rest, and values repeated from the request are clipped. Through
 * the real functions-framework server, with the JSON logger as Cloud Logging receives it (stdout).
 */
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import { parseConfig } from '../../../shared/config';
import { badRequest } from '../../../shared/errors';
import { clip, MAX_DETAIL_CHARS, toProblem } from '../../../shared/errors/problem';
import { installBodyErrorProblems } from '../../../shared/http/body-errors';
import { makeLogger } from '../../../shared/logging';
import { compose, type Composition } from '../../../shared/runtime';
import { makeOrchestrateHandler } from '../../../functions/orchestrate/handler';
import { MemoryGraphWriter } from '../../../shared/adapters/memory/graph-writer';

const env = {
  NEO4J_URI: 'bolt://127.0.0.1:1',
  NEO4J_PASSWORD: 'unused-in-these-tests',
  GRAPHMILL_MODE: 'local',
  STATUS_STORE: 'memory',
  COMPLETION_LEDGERS: 'memory',
  EVENT_BUS: 'local',
  HTTPS_SOURCES: 'off',
};
const BOUND = 8 * 1024;

let out: string[] = [];
let runtime: Composition;

beforeAll(() => {
  const logger = makeLogger({ level: 'debug', format: 'json', base: { function: 'orchestrate' } });
  runtime = compose(parseConfig(env), logger, { graph: new MemoryGraphWriter() });
  functions.http(
    'orchestrate-amplification',
    makeOrchestrateHandler({
      ingest: runtime.forFunction('orchestrate').ingest,
      batches: runtime.forFunction('orchestrate').batches,
      clock: runtime.adapters.pipeline.clock,
      logger,
      maxRequestBytes: 64 * 1024,
    }),
  );
  installBodyErrorProblems();
});
afterAll(() => runtime.close());
beforeEach(() => {
  out = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
});
afterEach(() => jest.restoreAllMocks());

const longestLogLine = () =>
  Math.max(
    0,
    ...out
      .join('')
      .split('\n')
      .map((l) => Buffer.byteLength(l)),
  );

const post = (body: string, path = '/') =>
  request(getTestServer('orchestrate-amplification'))
    .post(path)
    .set('Content-Type', 'application/json')
    .send(body);

it('10,000 invalid ids (40 KB): a 400 listing 20 problems and counting the rest, answer and log line under 8 KB', async () => {
  const body = JSON.stringify({
    action: 'submit_batch',
    batch_id: 'b-1',
    document_ids: Array.from({ length: 10_000 }, () => '!'),
  });
  expect(body.length).toBeGreaterThan(40_000);
  const res = await post(body);
  expect(res.status).toBe(400);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(Buffer.byteLength(res.text)).toBeLessThan(BOUND);
  expect(res.body.problems).toHaveLength(20);
  expect(res.body.problems[0]).toMatch(/^document_ids\.0: must be 1-256 characters/);
  expect(res.body.problemCount).toBe(10_000);
  expect(res.body.detail).toMatch(/ \.\.\. and 9,980 more$/);
  expect(longestLogLine()).toBeLessThan(BOUND);
  expect(out.join('')).toContain('and 9,980 more');
});

it('1,000 unregistered ids: a 404 listing 20 of them and counting the rest', async () => {
  const ids = Array.from({ length: 1000 }, (_, i) => `not-registered/${String(i).padStart(40, '0')}`);
  const res = await post(JSON.stringify({ action: 'submit_batch', batch_id: 'b-2', document_ids: ids }));
  expect(res.status).toBe(404);
  expect(res.body.missing).toEqual(ids.slice(0, 20));
  expect(res.body.missingCount).toBe(1000);
  expect(res.body.detail).toMatch(/ \.\.\. and 980 more$/);
  expect(Buffer.byteLength(res.text)).toBeLessThan(BOUND);
  expect(longestLogLine()).toBeLessThan(BOUND);
});

it('a 12 KB request path is clipped in the answer, not echoed whole', async () => {
  const res = await post('{"document_id":', `/${'x'.repeat(12_000)}`);
  expect(res.status).toBe(400);
  expect(res.body.instance).toMatch(/^\/x{199}\.\.\. \(11,801 more characters\)$/);
  expect(Buffer.byteLength(res.text)).toBeLessThan(2048);
});

it('a message that repeats a 1 MB value is clipped in the problem', () => {
  const problem = toProblem(badRequest(`Unknown thing ${'y'.repeat(1_000_000)}`), '/', 'r-1');
  expect(problem.detail.length).toBeLessThan(MAX_DETAIL_CHARS + 50);
  expect(problem.detail).toMatch(/more characters\)$/);
  expect(clip('short')).toBe('short');
});
