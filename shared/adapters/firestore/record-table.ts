import type {
  CollectionReference,
  DocumentData,
  DocumentReference,
  Query,
  Transaction,
} from '@google-cloud/firestore';
import type { Queries, RecordTable, Transition, WriteOptions } from '../../ports/record-table';
import { dataOf, encodeDocId, firestoreCall, runTransaction, type FirestoreProvider } from './client';

/** A named query: the Firestore queries it runs (each served by an index in firestore.indexes.json). */
export interface FirestoreQuery<T, P> {
  /** For error messages ("list documents"). */
  readonly operation: string;
  readonly find: (collection: CollectionReference, params: P) => Query[];
  /** What to keep of the records found (all the queries' results, in turn), in order; default all. */
  readonly select?: (records: T[], params: P) => T[];
}

/** A collection (its layout is in docs/data-model.md) and how records map onto its documents. */
export interface FirestoreTableSpec<T, Q extends Queries> {
  readonly collection: string;
  /** The record's name in error messages ("get document"). */
  readonly noun: string;
  /** The stored fields of a record, and back; default: the record's own fields. */
  readonly toStored?: (record: T) => DocumentData;
  readonly fromStored?: (data: DocumentData) => T;
  /** A new record is written with create(), not set(): should the read ever be wrong, the commit fails. */
  readonly createNew?: boolean;
  readonly queries: { readonly [K in keyof Q]: FirestoreQuery<T, Q[K]> };
}

/**
 * Records in `<collection>/{encoded id}`. Every update is one transaction around the transition: read the
 * document, `set` the whole result, so fields a transition cleared disappear, and a refusal writes nothing.
 */
export class FirestoreRecordTable<
  T extends { readonly id: string },
  Q extends Queries,
> implements RecordTable<T, Q> {
  private readonly toStored: (record: T) => DocumentData;
  private readonly fromStored: (data: DocumentData) => T;

  constructor(
    private readonly firestore: FirestoreProvider,
    private readonly spec: FirestoreTableSpec<T, Q>,
  ) {
    this.toStored = spec.toStored ?? ((record) => record);
    this.fromStored = spec.fromStored ?? ((data) => data as T);
  }

  get(id: string): Promise<T | undefined> {
    return firestoreCall(`get ${this.spec.noun}`, async () => {
      const data = dataOf<DocumentData>(await this.ref(id).get());
      return data && this.fromStored(data);
    });
  }

  query<K extends keyof Q & string>(name: K, params: Q[K]): Promise<T[]> {
    return firestoreCall(this.spec.queries[name].operation, () => this.find(name, params));
  }

  put(record: T, { operation }: WriteOptions): Promise<void> {
    return firestoreCall(operation, async () => {
      await this.ref(record.id).set(this.toStored(record));
    });
  }

  update<R>(id: string, fn: Transition<T, R>, { operation }: WriteOptions): Promise<R> {
    return firestoreCall(operation, () =>
      this.transact(id, (tx, ref, current) => {
        const { next, result } = fn(current);
        if (next && current === undefined && this.spec.createNew) tx.create(ref, this.toStored(next));
        else if (next) tx.set(ref, this.toStored(next));
        return result;
      }),
    );
  }

  /** Candidates come from queries outside any transaction (cheap, possibly stale); each is re-read in its own. */
  updateFound<K extends keyof Q & string>(
    name: K,
    params: Q[K],
    fn: (current: T) => T | undefined,
    { operation }: WriteOptions,
  ): Promise<T[]> {
    return firestoreCall(operation, async () => {
      const candidates = await this.find(name, params);
      const settled = await Promise.allSettled(
        candidates.map((c) =>
          this.transact(c.id, (tx, ref, current) => {
            const next = current && fn(current);
            if (next) tx.set(ref, this.toStored(next));
            return next;
          }),
        ),
      );
      // Records already changed must reach the caller, or they would sit idle (a lease nobody renews):
      // one failed update fails the call only when nothing was changed. Results keep candidate order.
      const changed = settled.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
      const failure = settled.find((r) => r.status === 'rejected');
      if (failure && changed.length === 0) throw failure.reason;
      return changed;
    });
  }

  /** One transaction, so the answer (did it exist?) matches what was deleted. */
  delete(id: string, { operation }: WriteOptions): Promise<boolean> {
    return firestoreCall(operation, () =>
      this.transact(id, (tx, ref, current) => {
        if (current) tx.delete(ref);
        return current !== undefined;
      }),
    );
  }

  private ref(id: string): DocumentReference {
    return this.firestore().collection(this.spec.collection).doc(encodeDocId(id));
  }

  private async find<K extends keyof Q & string>(name: K, params: Q[K]): Promise<T[]> {
    const { find, select } = this.spec.queries[name];
    const snaps = await Promise.all(
      find(this.firestore().collection(this.spec.collection), params).map((q) => q.get()),
    );
    const records = snaps.flatMap((snap) => snap.docs.map((d) => this.fromStored(d.data())));
    return select ? select(records, params) : records;
  }

  private transact<R>(
    id: string,
    fn: (tx: Transaction, ref: DocumentReference, current: T | undefined) => R,
  ): Promise<R> {
    const ref = this.ref(id);
    return runTransaction(this.firestore(), async (tx) => {
      const data = dataOf<DocumentData>(await tx.get(ref));
      return fn(tx, ref, data && this.fromStored(data));
    });
  }
}
