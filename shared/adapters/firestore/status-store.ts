import type { Query } from '@google-cloud/firestore';
import { TableStatusStore, type StatusQueries } from '../../status/store';
import type { DocumentRecord } from '../../status/types';
import { COLLECTIONS, type FirestoreProvider } from './client';
import { FirestoreRecordTable } from './record-table';

/**
 * Status in `documents/{encoded id}`: the DocumentRecord as the document's fields (timestamps as epoch ms
 * numbers), every change one transaction, so two runs can never both hold a live lease. `close` leaves
 * the client to the composition root, which shares it between stores and terminates it.
 */
export class FirestoreStatusStore extends TableStatusStore {
  constructor(firestore: FirestoreProvider) {
    super(
      new FirestoreRecordTable<DocumentRecord, StatusQueries>(firestore, {
        collection: COLLECTIONS.documents,
        noun: 'document',
        queries: {
          list: {
            operation: 'list documents',
            find: (documents, filter) => {
              let query: Query = documents.orderBy('id');
              if (filter.status !== undefined) query = query.where('status', '==', filter.status);
              if (filter.batchId !== undefined) query = query.where('batchId', '==', filter.batchId);
              return [query];
            },
          },
        },
      }),
    );
  }
}
