/**
 * Every HTTP function refuses a chunked body over MAX_REQUEST_BYTES before reading it, not only
 * orchestrate: each entrypoint is loaded alone (as Cloud Run loads it, by FUNCTION_TARGET), with a
 * configuration that cannot start, so no function could answer anything but 413 or its startup 500.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendStreamedBody } from '../../chaos/support/hostile';

const MiB = 1024 * 1024;
const saved = { ...process.env };

beforeAll(() => {
  for (const k of ['NEO4J_URI', 'NEO4J_PASSWORD', 'NEO4J_USERNAME', 'MAX_REQUEST_BYTES'])
    delete process.env[k];
  process.env['CHUNK_SIZE'] = 'lots';
});
afterAll(() => {
  process.env = saved;
});
beforeEach(() => jest.spyOn(process.stderr, 'write').mockImplementation(() => true));
afterEach(() => jest.restoreAllMocks());

it.each(['orchestrate', 'health', 'replayDeadLetters', 'watchdog', 'reconcile'])(
  '%s: 413 problem+json for a 32 MiB chunked body, answered before 8 MiB are sent',
  async (name) => {
    let server: Server | undefined;
    jest.isolateModules(() => {
      require(`../../../functions/${name}`);
      const testing =
        require('@google-cloud/functions-framework/testing') as typeof import('@google-cloud/functions-framework/testing');
      server = testing.getTestServer(name);
    });
    const srv = server as Server;
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
    try {
      const answer = await sendStreamedBody({
        port: (srv.address() as AddressInfo).port,
        headers: { 'content-type': 'application/json' },
        totalBytes: 32 * MiB,
      });
      expect(answer.status).toBe(413);
      expect(answer.contentType).toMatch(/^application\/problem\+json/);
      expect(answer.sentAtAnswer).toBeLessThan(8 * MiB);
    } finally {
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  },
);
