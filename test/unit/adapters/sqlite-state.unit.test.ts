/**
 * The state database when its disk is full (SQLite's max_page_count makes "database or disk is full"
 * happen without a small disk) and when the file is not a usable state database: the error names the
 * file and says what to do, and a file graphmill cannot use is left byte for byte as it was.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { openStateDatabase } from '../../../shared/adapters/sqlite/database';
import { SqliteStatusStore } from '../../../shared/adapters/sqlite/status-store';
import { isGraphmillError, type GraphmillError } from '../../../shared/errors';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'graphmill-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function thrown(fn: () => unknown): GraphmillError {
  try {
    fn();
  } catch (err) {
    if (isGraphmillError(err)) return err;
    throw err;
  }
  throw new Error('expected an error');
}

async function rejection(p: Promise<unknown>): Promise<GraphmillError> {
  try {
    await p;
  } catch (err) {
    if (isGraphmillError(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('a full state database', () => {
  it('reports state_store_full with the path, leaves no transaction open, and the run can still release what it holds', async () => {
    const db = openStateDatabase(dir);
    const store = new SqliteStatusStore(db);
    try {
      await store.registerMany([{ id: 'held', source: 'inline:', content: 'x' }], 1);
      const claim = await store.claim('held', { owner: 'run-1', leaseMs: 60_000, now: 2 });
      expect(claim.outcome).toBe('claimed');

      // No page beyond those in use: the next insert that needs one fails with SQLITE_FULL.
      const { page_count } = db.prepare('PRAGMA page_count').get() as { page_count: number };
      db.exec(`PRAGMA max_page_count = ${page_count}`);
      const big = Array.from({ length: 50 }, (_, i) => ({
        id: `doc-${i}`,
        source: 'inline:',
        content: 'y'.repeat(4000),
      }));
      const full = await rejection(store.registerMany(big, 3));
      expect(full.code).toBe('state_store_full');
      expect(full.status).toBe(507);
      expect(full.retryable).toBe(true);
      expect(full.message).toContain(join(dir, 'state.db'));
      expect(full.message).toMatch(/disk is full\. Free space .*--state-dir/);
      expect(db.isTransaction).toBe(false);
      expect(await store.list()).toHaveLength(1); // nothing of the failed transaction

      // The document the run holds goes back to pending: the next run takes it up.
      await store.fail(
        'held',
        'run-1',
        { stage: 'recording', code: full.code, message: 'x', retryable: true },
        5,
        'pending',
      );
      expect((await store.get('held'))?.status).toBe('pending');
      expect((await store.get('held'))?.leaseOwner).toBeUndefined();
    } finally {
      db.close();
    }
  });
});

describe('a state.db that cannot be used', () => {
  const stateFile = () => join(dir, 'state.db');

  /** A real graphmill state database, for the damaged cases. */
  function graphmillDatabase(): void {
    const db = openStateDatabase(dir);
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.close();
  }

  const expectUsable = (err: GraphmillError, why: RegExp) => {
    expect(err.code).toBe('config_invalid');
    expect(err.message).toContain(`The state database ${stateFile()} `);
    expect(err.message).toMatch(why);
    expect(err.message).toContain('Restore it from a backup');
    expect(err.message).toContain(`mv '${stateFile()}' '${stateFile()}.unusable'`);
  };

  it.each([
    [
      'is not SQLite at all',
      () => writeFileSync(stateFile(), 'not a database, just some text\n'.repeat(200)),
      /file is not a database/,
    ],
    ['is 0 bytes', () => writeFileSync(stateFile(), ''), /is empty \(0 bytes\)/],
    [
      'has a damaged first page',
      () => {
        graphmillDatabase();
        const bytes = readFileSync(stateFile());
        bytes.fill(0xa5, 100, 4096); // past the 100-byte header: the schema page
        writeFileSync(stateFile(), bytes);
      },
      /cannot be read \(.*(malformed|not a database)/,
    ],
    [
      "holds another application's schema",
      () => {
        const other = new DatabaseSync(stateFile());
        other.exec(
          "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('a')",
        );
        other.close();
      },
      /is not a graphmill state database \(its tables: users\)/,
    ],
  ])('refuses a file that %s, naming it, and leaves it unchanged', (_what, make, why) => {
    make();
    const before = sha(stateFile());
    expectUsable(
      thrown(() => openStateDatabase(dir)),
      why,
    );
    expect(sha(stateFile())).toBe(before);
    expect(existsSync(`${stateFile()}-wal`)).toBe(false);
  });

  it('refuses a directory', () => {
    mkdirSync(stateFile());
    expectUsable(
      thrown(() => openStateDatabase(dir)),
      /is a directory/,
    );
    expect(lstatSync(stateFile()).isDirectory()).toBe(true);
  });

  it('refuses a dangling symbolic link without creating its target', () => {
    const target = join(dir, 'elsewhere', 'state.db');
    symlinkSync(target, stateFile());
    expectUsable(
      thrown(() => openStateDatabase(dir)),
      /is a symbolic link to .*elsewhere.*which does not exist/,
    );
    expect(existsSync(join(dir, 'elsewhere'))).toBe(false);
    expect(lstatSync(stateFile()).isSymbolicLink()).toBe(true);
  });

  it('names the file when damage is found later, by a read', async () => {
    graphmillDatabase();
    const db = openStateDatabase(dir);
    const store = new SqliteStatusStore(db);
    await store.registerMany(
      Array.from({ length: 40 }, (_, i) => ({ id: `d${i}`, source: 'inline:', content: 'w'.repeat(3000) })),
      1,
    );
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.close();
    const bytes = readFileSync(stateFile());
    bytes.fill(0xa5, 4096 * 3, bytes.length); // every page after the first three
    writeFileSync(stateFile(), bytes);

    const again = openStateDatabase(dir);
    try {
      const err = await rejection(new SqliteStatusStore(again).list());
      expectUsable(err, /cannot be read \(.*malformed/);
    } finally {
      again.close();
    }
  });

  it('opens a brand-new state directory, and the same one again', () => {
    openStateDatabase(dir).close();
    const db = openStateDatabase(dir);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'documents'").get()).toEqual({
      n: 1,
    });
    db.close();
  });
});
