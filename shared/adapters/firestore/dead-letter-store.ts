import type { Query } from '@google-cloud/firestore';
import { TableDeadLetterStore, type DeadLetterQueries } from '../../dlq/store';
import { byDueAt } from '../../dlq/transitions';
import type { DeadLetter } from '../../dlq/types';
import { COLLECTIONS, type FirestoreProvider } from './client';
import { FirestoreRecordTable } from './record-table';

/**
 * Dead letters in `deadLetters/{encoded id}`, the DeadLetter as the document's fields. `claimDue` finds
 * candidates with two queries outside any transaction, then leases each one in its own transaction that
 * re-checks it is still claimable.
 */
export class FirestoreDeadLetterStore extends TableDeadLetterStore {
  constructor(firestore: FirestoreProvider) {
    super(
      new FirestoreRecordTable<DeadLetter, DeadLetterQueries>(firestore, {
        collection: COLLECTIONS.deadLetters,
        noun: 'dead letter',
        queries: {
          list: {
            operation: 'list dead letters',
            find: (entries, filter) => {
              let query: Query = entries.orderBy('id');
              if (filter.status !== undefined) query = query.where('status', '==', filter.status);
              if (filter.limit !== undefined) query = query.limit(filter.limit);
              return [query];
            },
          },
          due: {
            operation: 'list due dead letters',
            find: (entries, { now, limit }) => [
              entries
                .where('status', '==', 'pending')
                .where('nextAttemptAt', '<=', now)
                .orderBy('nextAttemptAt')
                .limit(limit),
              entries
                .where('status', '==', 'replaying')
                .where('leaseExpiresAt', '<=', now)
                .orderBy('leaseExpiresAt')
                .limit(limit),
            ],
            select: (found, { limit }) => found.sort(byDueAt).slice(0, limit),
          },
        },
      }),
    );
  }
}
