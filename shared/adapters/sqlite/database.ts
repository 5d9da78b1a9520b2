import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

/**
 * The embedded state database under the state directory. WAL lets the CLI and a local server share it;
 * busy_timeout makes a writer wait for another process's transaction instead of failing at once.
 */
export function openStateDatabase(stateDir: string): DatabaseSync {
  mkdirSync(stateDir, { recursive: true });
  const db = new DatabaseSync(join(stateDir, 'state.db'));
  db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;');
  migrate(db);
  return db;
}

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

/** Runs fn inside BEGIN IMMEDIATE ... COMMIT: the write lock is taken up front, so read-modify-write is atomic. */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    db.exec('ROLLBACK');
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
