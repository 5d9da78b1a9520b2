/**
 * The one StatusStore: the pure transitions in ./transitions.ts applied to a RecordTable, so every
 * backend changes a document the same way, each inside its own transaction or lock.
 */
import { isLeaseLost } from '../errors';
import type { BatchingRecordTable, Change, RecordTable } from '../ports/record-table';
import type { StatusStore } from '../ports/status-store';
import {
  claimDocument,
  completeDocument,
  failDocument,
  progressDocument,
  registerDocument,
} from './transitions';
import type {
  ClaimItem,
  ClaimRequest,
  ClaimResult,
  CompletionItem,
  CompletionUpdate,
  DocumentError,
  DocumentRecord,
  DocumentStatus,
  FailedStatus,
  NewDocument,
  Stage,
} from './types';

export interface StatusFilter {
  readonly status?: DocumentStatus;
  readonly batchId?: string;
}

/** `list`: the documents matching the filter, by id. */
export type StatusQueries = { readonly list: StatusFilter };

export type StatusTable = RecordTable<DocumentRecord, StatusQueries>;

const registered =
  (doc: NewDocument, now: number) =>
  (r: DocumentRecord | undefined): Change<DocumentRecord, DocumentRecord> => {
    const next = registerDocument(r, doc, now);
    return next === r ? { result: next } : { next, result: next };
  };

const claimed = (request: ClaimRequest) => (r: DocumentRecord | undefined) => claimDocument(r, request);

/** A transition that always writes: the whole record, so cleared fields disappear. */
const always =
  (fn: (r: DocumentRecord | undefined) => DocumentRecord) =>
  (r: DocumentRecord | undefined): Change<DocumentRecord, void> => ({ next: fn(r), result: undefined });

/** Documents in a RecordTable; transitions one by one (see BatchedStatusStore for the batched forms). */
export class TableStatusStore implements StatusStore {
  constructor(protected readonly table: StatusTable) {}

  register(doc: NewDocument, now: number): Promise<DocumentRecord> {
    return this.table.update(doc.id, registered(doc, now), { operation: 'register', newWork: true });
  }

  get(id: string): Promise<DocumentRecord | undefined> {
    return this.table.get(id);
  }

  list(filter: StatusFilter = {}): Promise<DocumentRecord[]> {
    return this.table.query('list', filter);
  }

  claim(id: string, request: ClaimRequest): Promise<ClaimResult> {
    return this.table.update(id, claimed(request), { operation: 'claim document', newWork: true });
  }

  progress(id: string, owner: string, stage: Stage, progress: number, now: number): Promise<void> {
    return this.table.update(
      id,
      always((r) => progressDocument(r, id, owner, stage, progress, now)),
      { operation: 'record progress' },
    );
  }

  complete(id: string, owner: string, update: CompletionUpdate, now: number): Promise<void> {
    return this.table.update(
      id,
      always((r) => completeDocument(r, id, owner, update, now)),
      { operation: 'complete document' },
    );
  }

  fail(id: string, owner: string, error: DocumentError, now: number, status?: FailedStatus): Promise<void> {
    return this.table.update(
      id,
      always((r) => failDocument(r, id, owner, error, now, status)),
      { operation: 'fail document' },
    );
  }

  delete(id: string): Promise<boolean> {
    return this.table.delete(id, { operation: 'delete document' });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The StatusStore with the batched forms, for a table that applies many updates in one transaction. */
export class BatchedStatusStore extends TableStatusStore {
  constructor(protected override readonly table: BatchingRecordTable<DocumentRecord, StatusQueries>) {
    super(table);
  }

  registerMany(docs: readonly NewDocument[], now: number): Promise<DocumentRecord[]> {
    return this.table.updateAll(
      docs.map((doc) => ({ id: doc.id, fn: registered(doc, now) })),
      { operation: 'register', newWork: true },
    );
  }

  claimMany(items: readonly ClaimItem[], lease: Omit<ClaimRequest, 'owner'>): Promise<ClaimResult[]> {
    return this.table.updateAll(
      items.map((item) => ({ id: item.id, fn: claimed({ ...lease, owner: item.owner }) })),
      { operation: 'claim document', newWork: true },
    );
  }

  completeMany(items: readonly CompletionItem[], now: number): Promise<(Error | undefined)[]> {
    return this.table.updateAll(
      items.map(({ id, owner, update }) => ({
        id,
        fn: (r: DocumentRecord | undefined): Change<DocumentRecord, Error | undefined> => {
          try {
            return { next: completeDocument(r, id, owner, update, now), result: undefined };
          } catch (err) {
            // A lost lease is this item's answer and changes nothing; anything else ends the transaction.
            if (isLeaseLost(err)) return { result: err };
            throw err;
          }
        },
      })),
      { operation: 'complete document' },
    );
  }
}
