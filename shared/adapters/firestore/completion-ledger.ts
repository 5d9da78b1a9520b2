import type { DocumentReference } from '@google-cloud/firestore';
import { foldAggregate } from '../../tracking/aggregate';
import type { CompletionFilter, CompletionRecord, PhaseAggregate } from '../../tracking/types';
import type { CompletionLedger } from '../../ports/completion-ledger';
import {
  COLLECTIONS,
  dataOf,
  encodeDocId,
  firestoreCall,
  runTransaction,
  type FirestoreProvider,
} from './client';

/**
 * Completions in `completions/{completionId}` and one aggregate per document and phase in
 * `completionAggregates/{documentId|phase}`. A record and its aggregate change in one transaction, and
 * an existing record makes the write a no-op, so a redelivered completion is never counted twice.
 */
export class FirestoreCompletionLedger implements CompletionLedger {
  constructor(private readonly firestore: FirestoreProvider) {}

  record(record: CompletionRecord): Promise<void> {
    return firestoreCall('record completion', () => {
      const recordRef = this.recordRef(record.completionId);
      const aggregateRef = this.aggregateRef(record.documentId, record.phase);
      return runTransaction(this.firestore(), async (tx) => {
        const [existing, aggregate] = await tx.getAll(recordRef, aggregateRef);
        if (existing?.exists) return;
        // create(), not set(): should the read above ever be wrong, the commit fails instead of overwriting.
        tx.create(recordRef, record);
        tx.set(aggregateRef, foldAggregate(aggregate && dataOf<PhaseAggregate>(aggregate), record));
      });
    });
  }

  get(completionId: string): Promise<CompletionRecord | undefined> {
    return firestoreCall('get completion', async () =>
      dataOf<CompletionRecord>(await this.recordRef(completionId).get()),
    );
  }

  list(filter: CompletionFilter = {}): Promise<CompletionRecord[]> {
    return firestoreCall('list completions', async () => {
      let query = this.firestore()
        .collection(COLLECTIONS.completions)
        .orderBy('occurredAt')
        .orderBy('completionId');
      if (filter.documentId !== undefined) query = query.where('documentId', '==', filter.documentId);
      if (filter.batchId !== undefined) query = query.where('batchId', '==', filter.batchId);
      if (filter.phase !== undefined) query = query.where('phase', '==', filter.phase);
      if (filter.since !== undefined) query = query.where('occurredAt', '>=', filter.since);
      if (filter.until !== undefined) query = query.where('occurredAt', '<', filter.until);
      if (filter.limit !== undefined) query = query.limit(filter.limit);
      const snap = await query.get();
      return snap.docs.map((d) => d.data() as CompletionRecord);
    });
  }

  aggregate(documentId: string, phase: string): Promise<PhaseAggregate | undefined> {
    return firestoreCall('get completion aggregate', async () =>
      dataOf<PhaseAggregate>(await this.aggregateRef(documentId, phase).get()),
    );
  }

  private recordRef(completionId: string): DocumentReference {
    return this.firestore().collection(COLLECTIONS.completions).doc(encodeDocId(completionId));
  }

  /** `|` never occurs in an encoded part, so the pair maps to exactly one id. */
  private aggregateRef(documentId: string, phase: string): DocumentReference {
    return this.firestore()
      .collection(COLLECTIONS.completionAggregates)
      .doc(`${encodeDocId(documentId)}|${encodeDocId(phase)}`);
  }
}
