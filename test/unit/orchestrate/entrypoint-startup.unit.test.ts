/** A function that cannot start (invalid configuration) answers every request with a clear problem. */
import { getTestServer } from '@google-cloud/functions-framework/testing';
import request from 'supertest';

let stderr: string[] = [];
const saved = { ...process.env };

beforeAll(() => {
  for (const k of ['NEO4J_URI', 'NEO4J_PASSWORD', 'NEO4J_USERNAME']) delete process.env[k];
  process.env['CHUNK_SIZE'] = 'lots';
  require('../../../functions/orchestrate');
});
afterAll(() => {
  process.env = saved;
});
beforeEach(() => {
  stderr = [];
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  });
});
afterEach(() => jest.restoreAllMocks());

it('answers 500 problem+json naming every invalid variable, and logs one CRITICAL line', async () => {
  const res = await request(getTestServer('orchestrate'))
    .post('/')
    .set('Content-Type', 'application/json')
    .set('X-Request-ID', 'startup-1')
    .send({ document_id: 'x' });
  expect(res.status).toBe(500);
  expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(res.body).toMatchObject({ code: 'config_invalid', requestId: 'startup-1' });
  for (const v of ['NEO4J_URI', 'NEO4J_PASSWORD', 'CHUNK_SIZE']) expect(res.body.detail).toContain(v);
  const lines = stderr
    .join('')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines).toEqual([
    expect.objectContaining({
      severity: 'CRITICAL',
      function: 'orchestrate',
      requestId: 'startup-1',
      code: 'config_invalid',
    }),
  ]);
});
