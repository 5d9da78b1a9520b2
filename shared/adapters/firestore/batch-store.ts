import type { DocumentReference, DocumentSnapshot, Transaction } from '@google-cloud/firestore';
import {
  completeBatch,
  createBatch,
  isOverdue,
  markOverdue,
  recordUnitOutcome,
} from '../../batches/transitions';
import type { Batch, BatchSummary, NewBatch, UnitOutcome, UnitResult } from '../../batches/types';
import type { BatchStore } from '../../ports/batch-store';
import {
  COLLECTIONS,
  TRANSACTION_ATTEMPTS,
  dataOf,
  encodeDocId,
  firestoreCall,
  type FirestoreProvider,
} from './client';

/**
 * The stored document: the Batch plus `awaitingDeadline` (open and not yet alerted), because Firestore
 * cannot query for a missing `overdueAlertedAt`, and the watchdog's query must not keep returning
 * batches it already alerted on.
 */
type StoredBatch = Batch & { readonly awaitingDeadline: boolean };

const toStored = (batch: Batch): StoredBatch => ({
  ...batch,
  awaitingDeadline: batch.status === 'open' && batch.overdueAlertedAt === undefined,
});

function fromStored(snap: DocumentSnapshot): Batch | undefined {
  const stored = dataOf<StoredBatch>(snap);
  if (!stored) return undefined;
  const { awaitingDeadline: _, ...batch } = stored;
  return batch;
}

/**
 * Batches in `batches/{encoded id}`, phase states (with each unit's outcome) inside the same document.
 * Every transition is one transaction around the pure functions in shared/batches/transitions.ts: of
 * the concurrent calls recording a phase's last units, exactly one commits the write that sets
 * `triggeredAt`, and only that call is told the phase completed.
 */
export class FirestoreBatchStore implements BatchStore {
  constructor(private readonly firestore: FirestoreProvider) {}

  create(batch: NewBatch, now: number): Promise<Batch> {
    return this.transact('create batch', batch.id, (tx, existing, ref) => {
      const next = createBatch(existing, batch, now);
      if (next !== existing) tx.create(ref, toStored(next));
      return next;
    });
  }

  get(id: string): Promise<Batch | undefined> {
    return firestoreCall('get batch', async () => fromStored(await this.ref(id).get()));
  }

  recordUnit(
    batchId: string,
    phase: string,
    unit: string,
    outcome: UnitOutcome,
    now: number,
  ): Promise<UnitResult> {
    return this.transact('record batch unit', batchId, (tx, existing, ref) => {
      const { result, next } = recordUnitOutcome(existing, batchId, phase, unit, outcome, now);
      if (next) tx.set(ref, toStored(next));
      return result;
    });
  }

  complete(batchId: string, summary: BatchSummary, now: number): Promise<Batch> {
    return this.transact('complete batch', batchId, (tx, existing, ref) => {
      const { batch, next } = completeBatch(existing, batchId, summary, now);
      if (next) tx.set(ref, toStored(next));
      return batch;
    });
  }

  listOverdue(now: number): Promise<Batch[]> {
    return firestoreCall('list overdue batches', async () => {
      const snap = await this.firestore()
        .collection(COLLECTIONS.batches)
        .where('awaitingDeadline', '==', true)
        .where('deadline', '<', now)
        .orderBy('deadline')
        .orderBy('id')
        .get();
      return snap.docs
        .map((d) => fromStored(d))
        .filter((b): b is Batch => b !== undefined && isOverdue(b, now));
    });
  }

  markOverdueAlerted(batchId: string, now: number): Promise<boolean> {
    return this.transact('mark batch overdue', batchId, (tx, existing, ref) => {
      const { next } = markOverdue(existing, batchId, now);
      if (next) tx.set(ref, toStored(next));
      return next !== undefined;
    });
  }

  private ref(id: string): DocumentReference {
    return this.firestore().collection(COLLECTIONS.batches).doc(encodeDocId(id));
  }

  private transact<T>(
    operation: string,
    id: string,
    fn: (tx: Transaction, existing: Batch | undefined, ref: DocumentReference) => T,
  ): Promise<T> {
    return firestoreCall(operation, () => {
      const ref = this.ref(id);
      return this.firestore().runTransaction(async (tx) => fn(tx, fromStored(await tx.get(ref)), ref), {
        maxAttempts: TRANSACTION_ATTEMPTS,
      });
    });
  }
}
