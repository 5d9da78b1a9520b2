/**
 * Records of one kind kept by id in a backend (a Map, a SQLite table, a Firestore collection) and changed
 * only by read-transition-write. The status, batch and dead-letter stores are written once over this
 * (shared/{status,batches,dlq}/store.ts); each backend implements it once (shared/adapters/<tech>/record-table.ts).
 */

/** What a transition makes of the current record: the record to write (none: leave it as it is) and the answer. */
export interface Change<T, R> {
  readonly next?: T;
  readonly result: R;
}

/** A pure function of the current record (undefined when there is none); it may throw to refuse. */
export type Transition<T, R> = (current: T | undefined) => Change<T, R>;

/** One update of many applied together (see BatchingRecordTable). */
export interface Update<T, R> {
  readonly id: string;
  readonly fn: Transition<T, R>;
}

export interface WriteOptions {
  /** What the caller is doing, for error messages ("claim document"). */
  readonly operation: string;
  /**
   * The write starts new work (registering, claiming): a backend short of room refuses it, so that the
   * room left goes to the work in flight.
   */
  readonly newWork?: boolean;
}

/** The named queries of a table: each name with its parameters. Each backend maps them onto its indexes. */
export type Queries = Record<string, unknown>;

export interface RecordTable<T extends { readonly id: string }, Q extends Queries> {
  get(id: string): Promise<T | undefined>;
  query<K extends keyof Q & string>(name: K, params: Q[K]): Promise<T[]>;
  /** Writes the record as it is, replacing any record with its id (no transaction: nothing is read). */
  put(record: T, options: WriteOptions): Promise<void>;
  /** Applies `fn` to the current record inside the backend's transaction or lock, writes `next`, answers `result`. */
  update<R>(id: string, fn: Transition<T, R>, options: WriteOptions): Promise<R>;
  /**
   * Applies `fn` to each record the query finds, each under the backend's transaction or lock, where `fn`
   * re-checks the record (a backend that cannot query inside its transaction finds candidates first);
   * answers the records written, in query order.
   */
  updateFound<K extends keyof Q & string>(
    name: K,
    params: Q[K],
    fn: (current: T) => T | undefined,
    options: WriteOptions,
  ): Promise<T[]>;
  /** Removes the record; answers whether it existed. */
  delete(id: string, options: WriteOptions): Promise<boolean>;
}

/** A table that can apply many updates in one transaction (the embedded SQLite database). */
export interface BatchingRecordTable<
  T extends { readonly id: string },
  Q extends Queries,
> extends RecordTable<T, Q> {
  /** Each update as `update` would apply it, all in one transaction; results in input order. */
  updateAll<R>(updates: readonly Update<T, R>[], options: WriteOptions): Promise<R[]>;
}
