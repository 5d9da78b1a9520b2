/**
 * `graphmill` on a state directory that fills up or holds a broken state.db, run as a child process: the
 * message, the exit code, and what the SQLite file says afterwards.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import neo4j from 'neo4j-driver';
import { neo4jConnection } from '../support/neo4j';
import { spawnCli } from '../support/spawn-cli';

const run = randomUUID().slice(0, 8);
let dir: string;
/** Unmounts the tmpfs in every outcome, also when a test is cut short. */
let unmountSmall: (() => void) | undefined;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'graphmill-state-e2e-'));
});
afterAll(async () => {
  unmountSmall?.();
  const conn = neo4jConnection();
  const driver = neo4j.driver(conn.uri, neo4j.auth.basic(conn.username, conn.password));
  try {
    await driver.executeQuery(
      'MATCH (n) WHERE n.id STARTS WITH $p OR n.documentId STARTS WITH $p DETACH DELETE n',
      { p: `e2e-${run}` },
    );
  } finally {
    await driver.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

function statuses(stateDb: string): Record<string, number> {
  const db = new DatabaseSync(stateDb, { readOnly: true });
  try {
    const rows = db.prepare('SELECT status, count(*) AS n FROM documents GROUP BY status').all() as {
      status: string;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  } finally {
    db.close();
  }
}

/** Mounts a tmpfs of `size` at `at`; undefined (with the reason printed) where mounting is not allowed. */
function mountTmpfs(at: string, size: string): (() => void) | undefined {
  mkdirSync(at, { recursive: true });
  const res = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at], { encoding: 'utf8' });
  if (res.status !== 0) {
    console.warn(`skipped: cannot mount a tmpfs (${(res.stderr || String(res.error)).trim()}); needs root`);
    return undefined;
  }
  unmountSmall = () => {
    spawnSync('umount', [at]);
    unmountSmall = undefined;
  };
  return unmountSmall;
}

it('a state directory that fills up stops the ingest: one clear message, nothing left processing, and a run with room completes every document', async () => {
  const docs = join(dir, 'docs');
  mkdirSync(docs);
  const count = 4800;
  for (let i = 0; i < count; i++) {
    writeFileSync(
      join(docs, `e2e-${run}-${i}.txt`),
      `Document ${i}. ${'lorem ipsum dolor sit amet '.repeat(20)}`,
    );
  }
  const mount = join(dir, 'small');
  const unmount = mountTmpfs(mount, '6m');
  if (!unmount) return;
  try {
    const stateDir = join(mount, 'state');
    const stateDb = join(stateDir, 'state.db');
    const started = Date.now();
    const full = await spawnCli(['ingest', docs, '--state-dir', stateDir], { cwd: dir });
    const seconds = (Date.now() - started) / 1000;

    expect(full.code).toBe(1);
    const stops = full.stderr.split('\n').filter((l) => l.startsWith('graphmill: ingest stopped:'));
    expect(stops).toEqual([
      `graphmill: ingest stopped: The state database ${stateDb} cannot be written: its disk is full. ` +
        'Free space on that disk, or use a state directory on another one (--state-dir, GRAPHMILL_STATE_DIR); ' +
        'documents not recorded stay pending for the next run',
    ]);
    expect(full.stderr).not.toMatch(/no transaction is active|completion lost|CRITICAL/);
    const after = statuses(stateDb);
    console.info(
      `full disk: ${count} documents, stopped in ${seconds.toFixed(1)} s; state after: ${JSON.stringify(after)}`,
    );
    expect(after['processing']).toBeUndefined();
    expect(after['pending']).toBeGreaterThan(0);
    expect((after['completed'] ?? 0) + (after['pending'] ?? 0)).toBe(count);

    // With room, the next run takes up every pending document.
    expect(spawnSync('mount', ['-o', 'remount,size=64m', mount]).status).toBe(0);
    const again = await spawnCli(['ingest', docs, '--state-dir', stateDir, '--json'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(statuses(stateDb)).toEqual({ completed: count });
  } finally {
    unmountSmall?.();
  }
});

it('graphmill status on a corrupt state.db names it, says what to do, exits 2 and leaves the file unchanged', async () => {
  const stateDir = join(dir, 'corrupt');
  mkdirSync(stateDir);
  const stateDb = join(stateDir, 'state.db');
  writeFileSync(stateDb, Buffer.from('SQLite format 2\0'.repeat(512)));
  const hash = () => createHash('sha256').update(readFileSync(stateDb)).digest('hex');
  const before = hash();

  const res = await spawnCli(['status', '--state-dir', stateDir], { cwd: dir });
  expect(res.code).toBe(2);
  expect(res.stderr).toContain(
    `graphmill: The state database ${stateDb} cannot be read (file is not a database).`,
  );
  expect(res.stderr).toContain(`mv '${stateDb}' '${stateDb}.unusable'`);
  expect(hash()).toBe(before);
});
