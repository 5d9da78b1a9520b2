/**
 * The file:// source on a real temporary directory: small files read synchronously, files above
 * SYNC_READ_LIMIT asynchronously and byte-identical, maxBytes enforced by the file's size, an abort signal
 * honoured between reads, and anything that is not a regular file inside the real root refused at once.
 * Every errno of resolving, opening and reading becomes a GraphmillError: a file the process may not read
 * (another user's, mode 000) or that is not a regular file (a Unix socket) is a permanent 422, a missing
 * one a 404, and only the machine's own failures (descriptors, memory, I/O) are retryable; never a raw
 * error, which the pipeline would report as a 500 bug.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import fs, {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { SYNC_READ_LIMIT, makeFileSource } from '../../../shared/adapters/file/source';
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

it('refuses a file URL with a NUL byte (%00) with a permanent 422', async () => {
  const url = `${pathToFileURL(root).href}/a%00b.txt`;
  const err = await refusal(makeFileSource(root).fetch({ ...record(root), source: url }, { maxBytes: 1000 }));
  expect(verdict(err)).toEqual(PERMANENT_422);
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

/** An fs error as Node throws it. */
const errnoError = (code: string, syscall: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`${code}: simulated, ${syscall}`), { code, syscall });

const verdict = (e: GraphmillError) => ({ code: e.code, status: e.status, retryable: e.retryable });

it('refuses a registered file replaced by a Unix socket (ENXIO) with a permanent 422', async () => {
  const path = write('was-a-file.txt', Buffer.from('text'));
  rmSync(path);
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    const err = await refusal(makeFileSource(root).fetch(record(path), { maxBytes: 1000 }));
    expect(verdict(err)).toEqual({ code: 'source_forbidden', status: 422, retryable: false });
    expect(err.details).toEqual({ errno: 'ENXIO' });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const PERMANENT_422 = { code: 'source_forbidden', status: 422, retryable: false };
const NOT_FOUND = { code: 'not_found', status: 404, retryable: false };
const TRANSIENT_503 = { code: 'dependency_unavailable', status: 503, retryable: true };

it.each([
  ['EACCES', PERMANENT_422],
  ['EPERM', PERMANENT_422],
  ['ENXIO', PERMANENT_422],
  ['EISDIR', PERMANENT_422],
  ['ENODEV', PERMANENT_422],
  ['EOPNOTSUPP', PERMANENT_422],
  ['EROFS', PERMANENT_422],
  ['ENOENT', NOT_FOUND],
  ['ENOTDIR', NOT_FOUND],
  ['ENAMETOOLONG', NOT_FOUND],
  ['EMFILE', TRANSIENT_503],
  ['ENFILE', TRANSIENT_503],
  ['ENOMEM', TRANSIENT_503],
  ['EAGAIN', TRANSIENT_503],
  ['EIO', TRANSIENT_503],
])('maps %s from open to %o', async (errno, expected) => {
  const path = write('doc.txt', Buffer.from('text'));
  jest.spyOn(fs, 'openSync').mockImplementation(() => {
    throw errnoError(errno, 'open');
  });
  const err = await refusal(makeFileSource(root).fetch(record(path), { maxBytes: 1000 }));
  expect(verdict(err)).toEqual(expected);
  expect(err.details).toEqual({ errno });
  expect(err.message).toContain(errno);
});

it('maps EACCES of resolving the path (a parent directory not searchable) to a permanent 422', async () => {
  const path = write('doc.txt', Buffer.from('text'));
  const real = realpathSync.native;
  jest.spyOn(realpathSync, 'native').mockImplementation((p, options) => {
    if (String(p) === path) throw errnoError('EACCES', 'realpath');
    return real(p, options as BufferEncoding);
  });
  const err = await refusal(makeFileSource(root).fetch(record(path), { maxBytes: 1000 }));
  expect(verdict(err)).toEqual(PERMANENT_422);
});

it('maps EIO in the middle of a read to a retryable 503 and closes the file', async () => {
  // Two slices: the first read succeeds, the second fails, as a failing disk or network file system does.
  const path = write('two-slices.bin', varied(2 * 1024 * 1024));
  const realRead = fs.readSync;
  let reads = 0;
  jest.spyOn(fs, 'readSync').mockImplementation((...args: Parameters<typeof fs.readSync>) => {
    if (++reads === 2) throw errnoError('EIO', 'read');
    return realRead(...args);
  });
  const closeSync = jest.spyOn(fs, 'closeSync');
  const err = await refusal(makeFileSource(root).fetch(record(path), { maxBytes: 10_000_000 }));
  expect(verdict(err)).toEqual(TRANSIENT_503);
  expect(reads).toBe(2);
  expect(closeSync).toHaveBeenCalledTimes(1);
});

const CAN_SWITCH_USER = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).error === undefined;
const NO_SWITCH = 'skipped: needs root and setpriv to read as the nobody user';

/**
 * The file source compiled to plain JavaScript in a directory another user can read: root reads any
 * file, so a real EACCES needs the read to run as someone else, in a child process.
 */
function compileForOtherUsers(into: string): string {
  const repo = join(__dirname, '..', '..', '..');
  for (const [from, to] of [
    ['shared/adapters/file/source.ts', 'adapters/file/source.js'],
    ['shared/errors/index.ts', 'errors/index.js'],
  ] as const) {
    const out = ts.transpileModule(readFileSync(join(repo, from), 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    mkdirSync(dirname(join(into, to)), { recursive: true, mode: 0o755 });
    writeFileSync(join(into, to), out.outputText, { mode: 0o644 });
  }
  return join(into, 'adapters', 'file', 'source.js');
}

(CAN_SWITCH_USER ? it : it.skip)(
  `refuses, read as another user, a file of mode 000 and a file under a closed directory (real EACCES)${CAN_SWITCH_USER ? '' : ` (${NO_SWITCH})`}`,
  () => {
    chmodSync(base, 0o755);
    chmodSync(root, 0o755);
    const module = compileForOtherUsers(join(base, 'module'));
    const locked = write('locked.txt', Buffer.from('mode 000'));
    chmodSync(locked, 0o000);
    mkdirSync(join(root, 'closed'), { mode: 0o700 });
    const hidden = write('closed/inside.txt', Buffer.from('behind a closed directory'));
    const readable = write('open.txt', Buffer.from('anyone may read this'));
    const script = `
      const { makeFileSource } = require(process.argv[1]);
      const source = makeFileSource(process.argv[2]);
      (async () => {
        const out = [];
        for (const path of process.argv.slice(3)) {
          try {
            const bytes = await source.fetch({ id: 'doc', source: require('url').pathToFileURL(path).href }, { maxBytes: 1000 });
            out.push({ read: Buffer.from(bytes).toString('utf8') });
          } catch (e) {
            out.push({ name: e.name, code: e.code, status: e.status, retryable: e.retryable, errno: e.details?.errno });
          }
        }
        process.stdout.write(JSON.stringify(out));
      })();`;
    const child = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        '-e',
        script,
        module,
        root,
        locked,
        hidden,
        readable,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual([
      { name: 'GraphmillError', ...PERMANENT_422, errno: 'EACCES' },
      { name: 'GraphmillError', ...PERMANENT_422, errno: 'EACCES' },
      { read: 'anyone may read this' },
    ]);
  },
);
