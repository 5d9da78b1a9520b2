import type { Queries, RecordTable, Transition, WriteOptions } from '../../ports/record-table';
import { settle } from '../settle';

/** Each named query over all the records: filter, order, limit. */
export type MemoryQueries<T, Q extends Queries> = {
  readonly [K in keyof Q]: (records: T[], params: Q[K]) => T[];
};

/** Listing order: by id. */
export const byId = <T extends { readonly id: string }>(a: T, b: T): number =>
  a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/**
 * Records kept in a Map. Each call runs synchronously between awaits, which makes every transition atomic
 * within the process: the in-memory equivalent of a transaction.
 */
export class MemoryRecordTable<T extends { readonly id: string }, Q extends Queries> implements RecordTable<
  T,
  Q
> {
  private readonly records = new Map<string, T>();

  constructor(private readonly queries: MemoryQueries<T, Q>) {}

  get(id: string): Promise<T | undefined> {
    return Promise.resolve(this.records.get(id));
  }

  query<K extends keyof Q & string>(name: K, params: Q[K]): Promise<T[]> {
    return settle(() => this.find(name, params));
  }

  put(record: T, _options: WriteOptions): Promise<void> {
    this.records.set(record.id, record);
    return Promise.resolve();
  }

  update<R>(id: string, fn: Transition<T, R>, _options: WriteOptions): Promise<R> {
    return settle(() => {
      const { next, result } = fn(this.records.get(id));
      if (next) this.records.set(id, next);
      return result;
    });
  }

  updateFound<K extends keyof Q & string>(
    name: K,
    params: Q[K],
    fn: (current: T) => T | undefined,
    _options: WriteOptions,
  ): Promise<T[]> {
    return settle(() =>
      this.find(name, params).flatMap((record) => {
        const next = fn(record);
        if (next) this.records.set(next.id, next);
        return next ? [next] : [];
      }),
    );
  }

  delete(id: string, _options: WriteOptions): Promise<boolean> {
    return Promise.resolve(this.records.delete(id));
  }

  private find<K extends keyof Q & string>(name: K, params: Q[K]): T[] {
    return this.queries[name]([...this.records.values()], params);
  }
}
