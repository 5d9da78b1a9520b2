import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import type {
  BatchingRecordTable,
  Queries,
  Transition,
  Update,
  WriteOptions,
} from '../../ports/record-table';
import { inTransaction, prepared, refuseWhenFull, settle } from './database';

/** A named query: what follows `SELECT record FROM <table>`, and its parameters. */
export type SqliteQuery = readonly [sql: string, params: readonly SQLInputValue[]];

/**
 * A table of the state database: one row per record, the record as JSON in `record`, beside the indexed
 * columns its queries select on (see MIGRATIONS in ./database.ts).
 */
export interface SqliteTableSpec<T, Q extends Queries> {
  readonly table: string;
  /** The indexed columns, and their values for a record. */
  readonly columns: readonly string[];
  readonly values: (record: T) => SQLInputValue[];
  readonly queries: { readonly [K in keyof Q]: (params: Q[K]) => SqliteQuery };
}

/**
 * Records in a table of the state database. Every update is a read-transition-write inside BEGIN IMMEDIATE,
 * so of two connections changing one record, the second reads what the first wrote.
 */
export class SqliteRecordTable<
  T extends { readonly id: string },
  Q extends Queries,
> implements BatchingRecordTable<T, Q> {
  private readonly upsert: string;

  constructor(
    private readonly db: DatabaseSync,
    private readonly spec: SqliteTableSpec<T, Q>,
  ) {
    const { table, columns } = spec;
    const names = ['id', ...columns, 'record'];
    this.upsert =
      `INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})
         ON CONFLICT (id) DO UPDATE SET ` +
      [...columns, 'record'].map((c) => `${c} = excluded.${c}`).join(', ');
  }

  get(id: string): Promise<T | undefined> {
    return settle(this.db, () => this.read(id));
  }

  query<K extends keyof Q & string>(name: K, params: Q[K]): Promise<T[]> {
    return settle(this.db, () => this.find(name, params));
  }

  put(record: T, _options: WriteOptions): Promise<void> {
    return settle(this.db, () => this.write(record));
  }

  update<R>(id: string, fn: Transition<T, R>, options: WriteOptions): Promise<R> {
    return this.transaction(options, () => this.apply({ id, fn }));
  }

  updateAll<R>(updates: readonly Update<T, R>[], options: WriteOptions): Promise<R[]> {
    return this.transaction(options, () => updates.map((u) => this.apply(u)));
  }

  updateFound<K extends keyof Q & string>(
    name: K,
    params: Q[K],
    fn: (current: T) => T | undefined,
    options: WriteOptions,
  ): Promise<T[]> {
    return this.transaction(options, () =>
      this.find(name, params).flatMap((record) => {
        const next = fn(record);
        if (next) this.write(next);
        return next ? [next] : [];
      }),
    );
  }

  delete(id: string, _options: WriteOptions): Promise<boolean> {
    return settle(
      this.db,
      () => Number(prepared(this.db, `DELETE FROM ${this.spec.table} WHERE id = ?`).run(id).changes) > 0,
    );
  }

  private read(id: string): T | undefined {
    const row = prepared(this.db, `SELECT record FROM ${this.spec.table} WHERE id = ?`).get(id) as
      { record: string } | undefined;
    return row ? (JSON.parse(row.record) as T) : undefined;
  }

  private find<K extends keyof Q & string>(name: K, params: Q[K]): T[] {
    const [sql, args] = this.spec.queries[name](params);
    const rows = prepared(this.db, `SELECT record FROM ${this.spec.table} ${sql}`).all(...args) as {
      record: string;
    }[];
    return rows.map((r) => JSON.parse(r.record) as T);
  }

  private write(record: T): void {
    prepared(this.db, this.upsert).run(record.id, ...this.spec.values(record), JSON.stringify(record));
  }

  private apply<R>({ id, fn }: Update<T, R>): R {
    const { next, result } = fn(this.read(id));
    if (next) this.write(next);
    return result;
  }

  /** New work is refused once the disk has filled up (see refuseWhenFull); the rest finishes. */
  private transaction<R>(options: WriteOptions, fn: () => R): Promise<R> {
    return settle(this.db, () =>
      inTransaction(this.db, () => {
        if (options.newWork) refuseWhenFull(this.db);
        return fn();
      }),
    );
  }
}
