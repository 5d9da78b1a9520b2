/**
 * The embedded state database's migrations when another process opens the same new database at the same
 * moment: the second must wait for the first's migration and then find nothing to do. The other process is
 * real (a child node process on the same file), holding the write lock in the middle of the migration.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { MIGRATIONS, openStateDatabase } from '../../../shared/adapters/sqlite/database';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'graphmill-migrate-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A process that starts migrating `file` the way openStateDatabase does and holds the lock for `holdMs`. */
function migratingProcess(file: string, holdMs: number) {
  const script = `
    const { DatabaseSync } = require('node:sqlite');
    const migrations = JSON.parse(process.env.MIGRATIONS);
    const db = new DatabaseSync(process.env.FILE);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000;');
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    db.exec('BEGIN IMMEDIATE');
    migrations.forEach((sql, i) => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(i + 1);
    });
    process.stdout.write('locked\\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.env.HOLD_MS));
    db.exec('COMMIT');
    db.close();
  `;
  const child = spawn(process.execPath, ['-e', script], {
    env: { ...process.env, FILE: file, MIGRATIONS: JSON.stringify(MIGRATIONS), HOLD_MS: String(holdMs) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      if (b.toString().includes('locked')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the migrating process exited (${code}) before locking`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { locked, exited };
}

it('waits for a migration another process is running, then finds the schema current', async () => {
  const file = join(dir, 'state.db');
  const other = migratingProcess(file, 400);
  await other.locked;

  const db = openStateDatabase(dir); // blocks (busy_timeout) until the other process commits
  try {
    const versions = db.prepare('SELECT version FROM schema_version ORDER BY version').all() as {
      version: number;
    }[];
    expect(versions.map((v) => v.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'documents'").get()).toEqual({
      n: 1,
    });
  } finally {
    db.close();
  }
  expect(await other.exited).toBe(0);
});

it('opening a current database again changes nothing', () => {
  openStateDatabase(dir).close();
  const db = openStateDatabase(dir);
  try {
    expect(db.prepare('SELECT count(*) AS n FROM schema_version').get()).toEqual({ n: MIGRATIONS.length });
  } finally {
    db.close();
  }
  const raw = new DatabaseSync(join(dir, 'state.db'));
  expect(raw.prepare('SELECT MAX(version) AS v FROM schema_version').get()).toEqual({ v: MIGRATIONS.length });
  raw.close();
});
