import {
  lstatSync,
  mkdirSync,
  readlinkSync,
  rmSync,
  statSync,
  statfsSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { configInvalid, isGraphmillError, stateStoreFull } from '../../errors';
import { settle as settleSync } from '../settle';

/**
 * Room kept next to each state database (`state.db-ballast`) and given back when the disk fills up: with
 * WAL every write appends to the log, so finishing the work in flight (completing or releasing the
 * documents a stopped run holds, recording their completions) needs room too. The checkpoint that folds
 * the log back into the database needs room for the pages it adds, at most wal_autocheckpoint's 256 pages
 * (1 MiB); the rest is for the writes after it.
 */
export const BALLAST_BYTES = 4 << 20;

/** SQLite's primary result codes (the low byte of an extended code) that say what became of the file. */
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_NOTADB = 26;
/** An extended code: the shared-memory index beside the WAL could not grow, which is a full disk too. */
const SQLITE_IOERR_SHMSIZE = 4874;

interface StateFile {
  readonly path: string;
  readonly ballast: string;
  /** Set when the disk filled up: new work is refused until there is room again (see refuseWhenFull). */
  full: boolean;
}
const stateFiles = new WeakMap<DatabaseSync, StateFile>();

/**
 * The embedded state database under the state directory. WAL lets the CLI and a local server share it;
 * busy_timeout makes a writer wait for another process's transaction instead of failing at once.
 *
 * An existing file is checked before anything is written to it: a directory, a dangling symlink, an empty
 * file, a file that is not SQLite, a damaged one or another application's database is reported with its
 * path and what to do, and left exactly as it was.
 */
export function openStateDatabase(stateDir: string): DatabaseSync {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, 'state.db');
  const existing = checkStateFile(path);
  const file: StateFile = { path, ballast: `${path}-ballast`, full: false };
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path);
    db.exec('PRAGMA busy_timeout = 10000');
    if (existing) checkSchema(db, path);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 256;');
    stateFiles.set(db, file);
    migrate(db);
    reserveBallast(file.ballast);
    return db;
  } catch (err) {
    if (db?.isOpen) db.close();
    throw stateError(file, err);
  }
}

/** Whether `path` is an existing state database to open; throws for anything that cannot be one. */
function checkStateFile(path: string): boolean {
  let link: Stats;
  try {
    link = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  let stats = link;
  if (link.isSymbolicLink()) {
    try {
      stats = statSync(path);
    } catch {
      // Opening it would create the link's target: a state nobody asked for, somewhere else.
      throw unusable(path, `is a symbolic link to ${readlinkSync(path)}, which does not exist`);
    }
  }
  if (stats.isDirectory()) throw unusable(path, 'is a directory, not a state database file');
  if (!stats.isFile()) throw unusable(path, 'is not a regular file');
  // SQLite writes the header as soon as graphmill sets WAL mode, right after creating the file: an empty
  // state.db was truncated (or made by something else), and opening it would silently start from nothing.
  if (stats.size === 0) throw unusable(path, 'is empty (0 bytes): it holds no state');
  return true;
}

/** Refuses a database that graphmill did not create, before WAL mode or a migration would change it. */
function checkSchema(db: DatabaseSync, path: string): void {
  const tables = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as {
      name: string;
    }[]
  ).map((t) => t.name);
  if (tables.length === 0) return;
  const foreign = () =>
    unusable(path, `is not a graphmill state database (its tables: ${tables.sort().join(', ')})`);
  if (!tables.includes('schema_version')) throw foreign();
  let version: number;
  try {
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
    version = row.v ?? 0;
  } catch {
    throw foreign();
  }
  if (version >= 1 && !tables.includes('documents')) throw foreign();
  if (version > MIGRATIONS.length) {
    throw unusable(
      path,
      `was written by a newer graphmill (schema version ${version}; this one knows ${MIGRATIONS.length})`,
    );
  }
}

const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/** A state file graphmill cannot use: the path, why, and what to do (exit code 2 in the CLI). */
function unusable(path: string, why: string, cause?: unknown) {
  return configInvalid(
    `The state database ${path} ${why}. graphmill left it unchanged. Restore it from a backup, or move it ` +
      `aside to start with an empty state: mv ${shellQuote(path)} ${shellQuote(`${path}.unusable`)} ` +
      `(and its -wal and -shm files, if any, the same way)`,
    { ...(cause !== undefined ? { cause } : {}), details: { path } },
  );
}

/**
 * Keeps up to BALLAST_BYTES of the disk for this database, and never more than a quarter of what is free:
 * the ballast must not be what fills the disk.
 */
function reserveBallast(ballast: string): void {
  const kept = statSync(ballast, { throwIfNoEntry: false })?.size ?? 0;
  let size = BALLAST_BYTES;
  try {
    const fs = statfsSync(dirname(ballast));
    size = Math.min(BALLAST_BYTES, Math.floor(((fs.bavail * fs.bsize + kept) / 4 / 4096) * 4096));
  } catch {
    // No statfs here: the full size.
  }
  if (kept === size) return;
  try {
    // Zeros written, not a sparse file: the blocks are taken now and given back when they are needed.
    writeFileSync(ballast, Buffer.alloc(size));
  } catch {
    // No room for it: nothing to give back later, and nothing else is wrong yet.
    rmSync(ballast, { force: true });
  }
}

const sqliteCode = (err: unknown): number | undefined => {
  const code = (err as { errcode?: unknown } | undefined)?.errcode;
  return typeof code === 'number' ? code : undefined;
};

const isDiskFull = (err: unknown): boolean => {
  const code = sqliteCode(err);
  return code !== undefined && ((code & 0xff) === SQLITE_FULL || code === SQLITE_IOERR_SHMSIZE);
};

const fullError = (path: string, cause?: unknown) =>
  stateStoreFull(
    `The state database ${path} cannot be written: its disk is full. Free space on that disk, or use a ` +
      'state directory on another one (--state-dir, GRAPHMILL_STATE_DIR); documents not recorded stay ' +
      'pending for the next run',
    { ...(cause !== undefined ? { cause } : {}), details: { path } },
  );

/**
 * What a SQLite failure means for graphmill: a full disk (`state_store_full`) or a damaged file (named,
 * with what to do). Any other error is returned as it is.
 */
function stateError(file: StateFile | undefined, err: unknown): Error {
  if (isGraphmillError(err)) return err;
  const code = sqliteCode(err);
  const primary = code === undefined ? undefined : code & 0xff;
  const path = file?.path ?? 'in memory';
  if (isDiskFull(err)) return fullError(path, err);
  if (primary === SQLITE_CORRUPT || primary === SQLITE_NOTADB) {
    return unusable(path, `cannot be read (${(err as Error).message})`, err);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Marks the database full, deletes the ballast and folds the WAL back into the database, truncating it
 * (the WAL holds every version of the pages written since the last checkpoint, so this gives back more
 * than the ballast alone). True when there was a ballast to give back.
 */
function giveBackRoom(db: DatabaseSync, file: StateFile): boolean {
  file.full = true;
  const had = statSync(file.ballast, { throwIfNoEntry: false }) !== undefined;
  rmSync(file.ballast, { force: true });
  try {
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  } catch {
    // Best effort: another connection reading, or still no room for the pages the checkpoint copies.
  }
  return had;
}

/**
 * Refuses new work (registering, claiming) once the disk has filled up, so that the room given back is
 * left to the work in flight: completing or releasing the documents already claimed, recording their
 * completions. Lifted again once the disk has room for a new ballast and more.
 */
export function refuseWhenFull(db: DatabaseSync): void {
  const file = stateFiles.get(db);
  if (!file?.full) return;
  try {
    const fs = statfsSync(dirname(file.path));
    if (fs.bavail * fs.bsize >= 4 * BALLAST_BYTES) {
      file.full = false;
      reserveBallast(file.ballast);
      return;
    }
  } catch {
    // No statfs here: stay refused, the next process starts afresh.
  }
  throw fullError(file.path);
}

/** The error `err` means for the state database `db`: see stateError. */
export const storeError = (db: DatabaseSync, err: unknown): Error => stateError(stateFiles.get(db), err);

/** Synchronous store work surfaced as a promise, failures as what they mean for the state database. */
export const settle = <T>(db: DatabaseSync, fn: () => T): Promise<T> =>
  settleSync(fn, (err) => storeError(db, err));

/** An in-memory database with the same schema, for tests. */
export function openMemoryDatabase(): DatabaseSync {
  const db = new DatabaseSync(':memory:');
  migrate(db);
  return db;
}

/** Exported for the migration tests, which play the part of another process. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE documents (
     id TEXT PRIMARY KEY,
     status TEXT NOT NULL,
     batch_id TEXT,
     record TEXT NOT NULL
   );
   CREATE INDEX documents_status ON documents (status);
   CREATE INDEX documents_batch ON documents (batch_id);`,
  // Completion ledger, batches and dead letters: the record as JSON plus the columns their queries use.
  `CREATE TABLE completions (
     completion_id TEXT PRIMARY KEY,
     document_id TEXT NOT NULL,
     batch_id TEXT,
     phase TEXT NOT NULL,
     occurred_at INTEGER NOT NULL,
     record TEXT NOT NULL
   );
   CREATE INDEX completions_document ON completions (document_id, occurred_at, completion_id);
   CREATE INDEX completions_batch ON completions (batch_id, occurred_at, completion_id);
   CREATE INDEX completions_occurred ON completions (occurred_at, completion_id);
   CREATE TABLE completion_aggregates (
     document_id TEXT NOT NULL,
     phase TEXT NOT NULL,
     aggregate TEXT NOT NULL,
     PRIMARY KEY (document_id, phase)
   );
   CREATE TABLE batches (
     id TEXT PRIMARY KEY,
     status TEXT NOT NULL,
     deadline INTEGER NOT NULL,
     overdue_alerted_at INTEGER,
     record TEXT NOT NULL
   );
   CREATE INDEX batches_overdue ON batches (status, deadline) WHERE overdue_alerted_at IS NULL;
   CREATE TABLE dead_letters (
     id TEXT PRIMARY KEY,
     status TEXT NOT NULL,
     next_attempt_at INTEGER,
     lease_expires_at INTEGER,
     record TEXT NOT NULL
   );
   CREATE INDEX dead_letters_status ON dead_letters (status, id);
   CREATE INDEX dead_letters_due ON dead_letters (status, next_attempt_at);
   CREATE INDEX dead_letters_lease ON dead_letters (status, lease_expires_at);`,
];

/**
 * Brings the schema up to date. The version is read inside the write transaction (BEGIN IMMEDIATE), so of
 * two processes opening an old database at once, the second waits for the first and then finds nothing
 * left to do, instead of running the same migration again.
 */
function migrate(db: DatabaseSync): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  inTransaction(db, () => {
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as
      { v: number | null } | undefined;
    for (let i = row?.v ?? 0; i < MIGRATIONS.length; i++) {
      db.exec(MIGRATIONS[i] as string);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(i + 1);
    }
  });
}

/**
 * Runs fn inside BEGIN IMMEDIATE ... COMMIT: the write lock is taken up front, so read-modify-write is
 * atomic. A transaction that finds the disk full gives back the ballast and runs once more (fn is rolled
 * back and pure, so running it again is safe): the work in flight finishes, and new work is refused.
 */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  try {
    return transaction(db, fn);
  } catch (err) {
    const file = stateFiles.get(db);
    if (!file || !isDiskFull(err) || !giveBackRoom(db, file)) throw storeError(db, err);
    try {
      return transaction(db, fn);
    } catch (again) {
      throw storeError(db, again);
    }
  }
}

function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    // SQLite has already rolled back on some errors (a full disk, an I/O error): a ROLLBACK then fails with
    // "no transaction is active", and that must not replace the error that ended the transaction.
    if (db.isTransaction) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // The error being thrown is the one that matters.
      }
    }
    throw err;
  }
}

const statementCache = new WeakMap<DatabaseSync, Map<string, StatementSync>>();

/** The database's prepared statement for `sql`, prepared once: preparing costs more than running it. */
export function prepared(db: DatabaseSync, sql: string): StatementSync {
  let cache = statementCache.get(db);
  if (!cache) {
    cache = new Map();
    statementCache.set(db, cache);
  }
  let statement = cache.get(sql);
  if (!statement) {
    statement = db.prepare(sql);
    cache.set(sql, statement);
  }
  return statement;
}
