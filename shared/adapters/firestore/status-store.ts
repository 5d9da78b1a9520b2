import type { DocumentReference, Transaction } from '@google-cloud/firestore';
import {
  claimDocument,
  completeDocument,
  failDocument,
  progressDocument,
  registerDocument,
} from '../../status/transitions';
import type {
  ClaimRequest,
  ClaimResult,
  CompletionUpdate,
  DocumentError,
  DocumentRecord,
  DocumentStatus,
  FailedStatus,
  NewDocument,
  Stage,
} from '../../status/types';
import type { StatusStore } from '../../ports/status-store';
import {
  COLLECTIONS,
  TRANSACTION_ATTEMPTS,
  dataOf,
  encodeDocId,
  firestoreCall,
  type FirestoreProvider,
} from './client';

/**
 * Status in `documents/{encoded id}`: the DocumentRecord as the document's fields (timestamps as epoch ms
 * numbers). Every change is a read-modify-write in one transaction around the pure transitions in
 * shared/status/transitions.ts, so two runs can never both hold a live lease.
 */
export class FirestoreStatusStore implements StatusStore {
  constructor(private readonly firestore: FirestoreProvider) {}

  register(doc: NewDocument, now: number): Promise<DocumentRecord> {
    return this.transact('register', doc.id, (tx, existing, ref) => {
      const next = registerDocument(existing, doc, now);
      if (next !== existing) tx.set(ref, next);
      return next;
    });
  }

  get(id: string): Promise<DocumentRecord | undefined> {
    return firestoreCall('get document', async () => dataOf<DocumentRecord>(await this.ref(id).get()));
  }

  list(filter: { status?: DocumentStatus; batchId?: string } = {}): Promise<DocumentRecord[]> {
    return firestoreCall('list documents', async () => {
      let query = this.firestore().collection(COLLECTIONS.documents).orderBy('id');
      if (filter.status !== undefined) query = query.where('status', '==', filter.status);
      if (filter.batchId !== undefined) query = query.where('batchId', '==', filter.batchId);
      const snap = await query.get();
      return snap.docs.map((d) => d.data() as DocumentRecord);
    });
  }

  claim(id: string, request: ClaimRequest): Promise<ClaimResult> {
    return this.transact('claim document', id, (tx, existing, ref) => {
      const { result, next } = claimDocument(existing, request);
      if (next) tx.set(ref, next);
      return result;
    });
  }

  progress(id: string, owner: string, stage: Stage, progress: number, now: number): Promise<void> {
    return this.apply('record progress', id, (r) => progressDocument(r, id, owner, stage, progress, now));
  }

  complete(id: string, owner: string, update: CompletionUpdate, now: number): Promise<void> {
    return this.apply('complete document', id, (r) => completeDocument(r, id, owner, update, now));
  }

  fail(id: string, owner: string, error: DocumentError, now: number, status?: FailedStatus): Promise<void> {
    return this.apply('fail document', id, (r) => failDocument(r, id, owner, error, now, status));
  }

  delete(id: string): Promise<boolean> {
    // One transaction so the answer (did it exist?) matches what was deleted.
    return this.transact('delete document', id, (tx, existing, ref) => {
      if (existing) tx.delete(ref);
      return existing !== undefined;
    });
  }

  /** The client belongs to the composition root (stores share it), which terminates it. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  private ref(id: string): DocumentReference {
    return this.firestore().collection(COLLECTIONS.documents).doc(encodeDocId(id));
  }

  private apply(
    operation: string,
    id: string,
    fn: (r: DocumentRecord | undefined) => DocumentRecord,
  ): Promise<void> {
    return this.transact(operation, id, (tx, existing, ref) => {
      // set, not update: the transition returns the whole record, and cleared fields must disappear.
      tx.set(ref, fn(existing));
    });
  }

  private transact<T>(
    operation: string,
    id: string,
    fn: (tx: Transaction, existing: DocumentRecord | undefined, ref: DocumentReference) => T,
  ): Promise<T> {
    return firestoreCall(operation, () => {
      const ref = this.ref(id);
      return this.firestore().runTransaction(
        async (tx) => fn(tx, dataOf<DocumentRecord>(await tx.get(ref)), ref),
        { maxAttempts: TRANSACTION_ATTEMPTS },
      );
    });
  }
}
