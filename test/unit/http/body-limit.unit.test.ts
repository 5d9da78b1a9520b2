/**
 * MAX_REQUEST_BYTES on bodies the functions framework would otherwise read whole (its parsers accept any
 * content type up to 1 GB): through the real framework server on 127.0.0.1, with a handler that only
 * reports what it received.
 */
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { installBodyErrorProblems } from '../../../shared/http/body-errors';
import { REQUEST_BYTES_DEFAULT } from '../../../shared/http/limits';
import { sendStreamedBody } from '../../chaos/support/hostile';

const MiB = 1024 * 1024;
let calls = 0;
let bodiesSeen: number[] = [];
functions.http('body-limit-under-test', (req, res) => {
  calls++;
  bodiesSeen.push(req.rawBody?.length ?? 0);
  res.status(200).json({ bytes: req.rawBody?.length ?? 0 });
});
installBodyErrorProblems();

let server: Server;
let port: number;
const sockets: Socket[] = [];
const saved = process.env['MAX_REQUEST_BYTES'];

beforeAll(async () => {
  server = getTestServer('body-limit-under-test');
  server.on('connection', (s: Socket) => sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  calls = 0;
  bodiesSeen = [];
  sockets.length = 0;
});
afterEach(() => {
  if (saved === undefined) delete process.env['MAX_REQUEST_BYTES'];
  else process.env['MAX_REQUEST_BYTES'] = saved;
});

/** What the server read off its sockets: the parser stops reading once a body is refused. */
const serverBytesRead = () => sockets.reduce((n, s) => n + s.bytesRead, 0);

describe('a chunked body is refused as soon as it passes MAX_REQUEST_BYTES', () => {
  it.each(['application/json', 'text/plain', 'application/octet-stream'])(
    '64 MiB of %s: 413 problem+json before 16 MiB are sent, the server reads under 1 MiB, the connection closes',
    async (contentType) => {
      const answer = await sendStreamedBody({
        port,
        headers: { 'content-type': contentType },
        totalBytes: 64 * MiB,
      });
      expect(answer.status).toBe(413);
      expect(answer.contentType).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(answer.body)).toMatchObject({ code: 'content_too_large', status: 413 });
      expect(answer.connection).toBe('close');
      // What is in flight in the loopback socket buffers is sent but not read.
      expect(answer.sentAtAnswer).toBeLessThan(16 * MiB);
      expect(answer.sent).toBeLessThan(64 * MiB);
      expect(serverBytesRead()).toBeLessThan(REQUEST_BYTES_DEFAULT + MiB);
      expect(calls).toBe(0);
    },
  );

  it('a slow-drip body is refused when it passes the configured limit, not when it ends', async () => {
    process.env['MAX_REQUEST_BYTES'] = '4096';
    const answer = await sendStreamedBody({
      port,
      headers: { 'content-type': 'application/json' },
      totalBytes: 200 * 512,
      chunkBytes: 512,
      dripMs: 10,
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'content_too_large' });
    expect(answer.sentAtAnswer).toBeLessThanOrEqual(4096 + 4 * 512);
    expect(calls).toBe(0);
  });

  it('a declared Content-Length above the configured limit is refused before a byte is read', async () => {
    process.env['MAX_REQUEST_BYTES'] = '4096';
    const answer = await sendStreamedBody({
      port,
      headers: { 'content-type': 'application/json', 'content-length': String(8 * MiB) },
      totalBytes: 8 * MiB,
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'content_too_large' });
    expect(answer.connection).toBe('close');
    expect(answer.sent).toBeLessThan(8 * MiB);
    expect(calls).toBe(0);
  });

  it('a chunked body within the limit reaches the function whole, and a refusal leaves the server serving', async () => {
    const refused = await sendStreamedBody({
      port,
      headers: { 'content-type': 'text/plain' },
      totalBytes: 4 * MiB,
    });
    expect(refused.status).toBe(413);
    const accepted = await sendStreamedBody({
      port,
      headers: { 'content-type': 'application/octet-stream' },
      totalBytes: REQUEST_BYTES_DEFAULT,
      chunkBytes: 1000,
    });
    expect(accepted.status).toBe(200);
    expect(JSON.parse(accepted.body)).toEqual({ bytes: REQUEST_BYTES_DEFAULT });
    expect(calls).toBe(1);
  });
});

it('a Content-Length smaller than what is sent: the rest is refused as a malformed request and the connection closed; no function sees more than the declared bytes', async () => {
  const socket = connect({ host: '127.0.0.1', port });
  const received: Buffer[] = [];
  socket.on('data', (c: Buffer) => received.push(c));
  socket.on('error', () => undefined); // a reset while the rest is still being written
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const body = '{"document_id":"a"}';
  socket.write(
    `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  socket.write(Buffer.alloc(MiB, 0x61));
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const text = Buffer.concat(received).toString('latin1');
  // Node's HTTP parser reads the excess as the next request and answers its own 400 before any
  // graphmill code runs; the first request may or may not have been answered by then.
  expect(text).toMatch(/HTTP\/1\.1 400 Bad Request\r\nConnection: close/);
  expect(bodiesSeen.every((n) => n === body.length)).toBe(true);
  expect(calls).toBeLessThanOrEqual(1);
  expect(serverBytesRead()).toBeLessThan(MiB);
});
