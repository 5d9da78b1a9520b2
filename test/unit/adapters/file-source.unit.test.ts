/**
 * The file:// source on a real temporary directory: small files read synchronously, files above
 * SYNC_READ_LIMIT asynchronously and byte-identical, maxBytes enforced by the file's size, an abort signal
 * honoured between reads, and anything that is not a regular file inside the real root refused at once.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import fs, { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SYNC_READ_LIMIT, makeFileSource } from '../../../shared/documents/file';
import { GraphmillError } from '../../../shared/errors';
import type { DocumentRecord } from '../../../shared/status/types';

const HAS_MKFIFO = spawnSync('mkfifo', ['--version']).error === undefined;
const NO_MKFIFO = 'skipped: mkfifo is not installed, so no FIFO can be made';

let base: string;
let root: string;
let outside: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'graphmill-file-source-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
});
afterEach(() => {
  jest.restoreAllMocks();
  rmSync(base, { recursive: true, force: true });
});

const record = (path: string): DocumentRecord => ({
  id: 'doc-1',
  source: pathToFileURL(path).href,
  status: 'processing',
  attempt: 1,
  createdAt: 0,
  updatedAt: 0,
});

/** `size` bytes that differ from slice to slice, so a misplaced or repeated slice shows. */
function varied(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >>> 11) * 7 + (i >>> 20)) & 0xff;
  return bytes;
}

function write(name: string, bytes: Buffer): string {
  const path = join(root, name);
  writeFileSync(path, bytes);
  return path;
}

/** The GraphmillError a fetch rejected with (fails the test if it resolved). */
async function refusal(fetched: Promise<unknown>): Promise<GraphmillError> {
  const err = await fetched.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GraphmillError);
  return err as GraphmillError;
}

it('reads a small file with synchronous reads', async () => {
  const bytes = varied(10_000);
  const path = write('small.txt', bytes);
  const readSync = jest.spyOn(fs, 'readSync');
  const out = await makeFileSource(root).fetch(record(path), { maxBytes: 1_000_000 });
  expect(Buffer.from(out).equals(bytes)).toBe(true);
  expect(readSync).toHaveBeenCalled();
});

it('reads a file larger than SYNC_READ_LIMIT asynchronously, byte-identical', async () => {
  const size = 5 * 1024 * 1024 + 123;
  expect(size).toBeGreaterThan(SYNC_READ_LIMIT);
  const bytes = varied(size);
  const path = write('large.bin', bytes);
  const readSync = jest.spyOn(fs, 'readSync');

  const out = await makeFileSource(root).fetch(record(path), { maxBytes: 10 * 1024 * 1024 });

  expect(out.byteLength).toBe(size);
  expect(Buffer.compare(Buffer.from(out), bytes)).toBe(0);
  expect(readSync).not.toHaveBeenCalled();
});

it('reads a file of exactly maxBytes and refuses it with 413 content_too_large at maxBytes - 1', async () => {
  const bytes = varied(4096);
  const path = write('exact.txt', bytes);
  const source = makeFileSource(root);

  expect(Buffer.from(await source.fetch(record(path), { maxBytes: 4096 })).equals(bytes)).toBe(true);
  const err = await refusal(source.fetch(record(path), { maxBytes: 4095 }));
  expect({ code: err.code, status: err.status, retryable: err.retryable }).toEqual({
    code: 'content_too_large',
    status: 413,
    retryable: false,
  });
});

it('refuses a large file above maxBytes by its size, without reading it', async () => {
  const path = write('large.bin', varied(SYNC_READ_LIMIT + 1));
  const readSync = jest.spyOn(fs, 'readSync');
  const err = await refusal(makeFileSource(root).fetch(record(path), { maxBytes: SYNC_READ_LIMIT }));
  expect(err.code).toBe('content_too_large');
  expect(readSync).not.toHaveBeenCalled();
});

it('rejects a large file when the signal is already aborted', async () => {
  const path = write('large.bin', varied(SYNC_READ_LIMIT + 1));
  const controller = new AbortController();
  const reason = new Error('run cancelled');
  controller.abort(reason);
  await expect(
    makeFileSource(root).fetch(record(path), { maxBytes: 10 * 1024 * 1024, signal: controller.signal }),
  ).rejects.toBe(reason);
});

it('stops reading a large file between slices once the signal aborts', async () => {
  const path = write('large.bin', varied(5 * 1024 * 1024 + 123));
  const controller = new AbortController();
  const reason = new Error('run cancelled');
  const fetched = makeFileSource(root).fetch(record(path), {
    maxBytes: 10 * 1024 * 1024,
    signal: controller.signal,
  });
  // The first slice is in flight: the abort lands before the next one.
  controller.abort(reason);
  await expect(fetched).rejects.toBe(reason);
});

it('refuses a directory inside the root, and the root itself, with 422 source_forbidden', async () => {
  mkdirSync(join(root, 'subdir'));
  const source = makeFileSource(root);
  for (const path of [join(root, 'subdir'), root]) {
    const err = await refusal(source.fetch(record(path), { maxBytes: 1000 }));
    expect({ path, code: err.code, status: err.status }).toEqual({
      path,
      code: 'source_forbidden',
      status: 422,
    });
  }
});

it('refuses a symlink that leads out of the root, and a path with ..', async () => {
  writeFileSync(join(outside, 'secret.txt'), 'outside the root');
  symlinkSync(join(outside, 'secret.txt'), join(root, 'link.txt'));
  const source = makeFileSource(root);
  for (const path of [join(root, 'link.txt'), `${root}/../outside/secret.txt`]) {
    const err = await refusal(source.fetch(record(path), { maxBytes: 1000 }));
    expect({ path, code: err.code }).toEqual({ path, code: 'source_forbidden' });
  }
});

it('follows a symlink that stays inside the real root, even when the root is given through a link', async () => {
  const bytes = varied(100);
  write('target.txt', bytes);
  symlinkSync(join(root, 'target.txt'), join(root, 'link.txt'));
  symlinkSync(root, join(base, 'root-link'));
  const out = await makeFileSource(join(base, 'root-link')).fetch(record(join(root, 'link.txt')), {
    maxBytes: 1000,
  });
  expect(Buffer.from(out).equals(bytes)).toBe(true);
  expect(realpathSync(join(base, 'root-link'))).toBe(realpathSync(root));
});

it('answers not_found for a missing file', async () => {
  const err = await refusal(makeFileSource(root).fetch(record(join(root, 'nope.txt')), { maxBytes: 1000 }));
  expect(err.code).toBe('not_found');
});

(HAS_MKFIFO ? it : it.skip)(
  `refuses a FIFO at once with source_forbidden instead of waiting for a writer${HAS_MKFIFO ? '' : ` (${NO_MKFIFO})`}`,
  async () => {
    const fifo = join(root, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Should the open ever block the event loop, this writer (another process) unblocks it after 3 s, so
    // the test fails on the elapsed time instead of hanging.
    const writer: ChildProcess = spawn(
      process.execPath,
      [
        '-e',
        'setTimeout(() => require("fs").closeSync(require("fs").openSync(process.argv[1], "w")), 3000)',
        fifo,
      ],
      { stdio: 'ignore' },
    );
    try {
      const started = performance.now();
      const err = await refusal(makeFileSource(root).fetch(record(fifo), { maxBytes: 1000 }));
      const elapsedMs = performance.now() - started;
      expect({ code: err.code, status: err.status }).toEqual({ code: 'source_forbidden', status: 422 });
      expect(elapsedMs).toBeLessThan(1000);
    } finally {
      if (writer.exitCode === null) {
        const exited = new Promise((resolve) => writer.once('exit', resolve));
        writer.kill();
        await exited;
      }
    }
  },
);
