import type { DocumentData } from '@google-cloud/firestore';
import { TableBatchStore, type BatchQueries } from '../../batches/store';
import { isOverdue } from '../../batches/transitions';
import type { Batch } from '../../batches/types';
import { COLLECTIONS, type FirestoreProvider } from './client';
import { FirestoreRecordTable } from './record-table';

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

function fromStored(data: DocumentData): Batch {
  const { awaitingDeadline: _, ...batch } = data as StoredBatch;
  return batch;
}

/**
 * Batches in `batches/{encoded id}`, phase states (with each unit's outcome) inside the same document;
 * every transition is one transaction.
 */
export class FirestoreBatchStore extends TableBatchStore {
  constructor(firestore: FirestoreProvider) {
    super(
      new FirestoreRecordTable<Batch, BatchQueries>(firestore, {
        collection: COLLECTIONS.batches,
        noun: 'batch',
        toStored,
        fromStored,
        createNew: true,
        queries: {
          overdue: {
            operation: 'list overdue batches',
            find: (batches, now) => [
              batches
                .where('awaitingDeadline', '==', true)
                .where('deadline', '<', now)
                .orderBy('deadline')
                .orderBy('id'),
            ],
            select: (found, now) => found.filter((b) => isOverdue(b, now)),
          },
        },
      }),
    );
  }
}
