/**
 * Sources that fail through the real entry points: `graphmill serve` (the orchestrate function, in local
 * mode) answering for local files the process may not read or that stopped being regular files, and
 * `graphmill ingest` of a signed https URL, whose query must reach nothing but the fetcher.
 */
import { randomUUID } from 'node:crypto';
import fs, { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStateDatabase } from '../../shared/adapters/sqlite/database';
import { SqliteStatusStore } from '../../shared/adapters/sqlite/status-store';
import { runCli } from '../support/cli';

const run = randomUUID().slice(0, 8);
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'graphmill-source-failures-'));
});
afterEach(() => {
  jest.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  type: string | null;
  body: Record<string, unknown>;
}

it('serve answers 422 or 404, never 500, for unreadable local files, and records a permanent failure', async () => {
  const [locked, socket, gone, readable] = ['locked', 'socket', 'gone', 'readable'].map(
    (n) => `${n}-${run}.md`,
  );
  const names = [locked, socket, gone, readable] as string[];
  for (const name of names) writeFileSync(join(dir, name), `# ${name}\n\nSome text to chunk.\n`);
  const stateDir = join(dir, 'state');
  const reg = await runCli(['register', ...names, '--state-dir', stateDir], { cwd: dir });
  expect(reg.code).toBe(0);

  // After registering: one file becomes a Unix socket, one is deleted, and one cannot be opened by this
  // process. Root reads a mode 000 file, so the EACCES of another user's file is injected at the open.
  const socketPath = join(dir, socket as string);
  rmSync(socketPath);
  const socketServer: Server = createServer();
  await new Promise<void>((resolve) => socketServer.listen(socketPath, resolve));
  rmSync(join(dir, gone as string));
  const lockedPath = join(dir, locked as string);
  const realOpen = fs.openSync;
  jest.spyOn(fs, 'openSync').mockImplementation((...args: Parameters<typeof fs.openSync>) => {
    if (args[0] === lockedPath) {
      throw Object.assign(new Error(`EACCES: permission denied, open '${lockedPath}'`), {
        code: 'EACCES',
        syscall: 'open',
      });
    }
    return realOpen(...args);
  });

  const answers: Answer[] = [];
  try {
    const res = await runCli(['serve', '--port', '0', '--state-dir', stateDir, '--file-root', dir], {
      cwd: dir,
      untilStopped: async (port) => {
        for (const [name, action] of [
          ...names.map((n) => [n, 'process_document']),
          [readable, 'delete_document'],
        ]) {
          const r = await fetch(`http://127.0.0.1:${port}/`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ document_id: name, action }),
          });
          answers.push({
            status: r.status,
            type: r.headers.get('content-type'),
            body: (await r.json()) as Record<string, unknown>,
          });
        }
      },
    });
    expect(res.code).toBe(0);
  } finally {
    await new Promise<void>((resolve) => socketServer.close(() => resolve()));
  }

  expect(answers.map((a) => [a.status, a.body['code'] ?? a.body['status']])).toEqual([
    [422, 'source_forbidden'],
    [422, 'source_forbidden'],
    [404, 'not_found'],
    [200, 'completed'],
    [200, 'deleted'],
  ]);
  for (const a of answers.slice(0, 3)) expect(a.type).toMatch(/application\/problem\+json/);

  const store = new SqliteStatusStore(openStateDatabase(stateDir));
  try {
    const stored = Object.fromEntries((await store.list()).map((d) => [d.id, d]));
    for (const [name, code] of [
      [locked, 'source_forbidden'],
      [socket, 'source_forbidden'],
      [gone, 'not_found'],
    ]) {
      expect(stored[name as string]).toMatchObject({
        status: 'failed',
        error: { stage: 'fetching', code, retryable: false },
      });
    }
    expect(stored[socket as string]?.error?.message).toMatch(/not a regular file \(ENXIO\)/);
    expect(stored[locked as string]?.error?.message).toMatch(/may not be read \(EACCES/);
  } finally {
    await store.close();
  }
});
