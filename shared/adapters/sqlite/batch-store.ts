import type { DatabaseSync } from 'node:sqlite';
import { TableBatchStore, type BatchQueries } from '../../batches/store';
import type { Batch } from '../../batches/types';
import { SqliteRecordTable } from './record-table';

/**
 * The embedded BatchStore: `batches` rows, every transition inside BEGIN IMMEDIATE, so of two connections
 * recording the last units only one sees the phase complete.
 */
export class SqliteBatchStore extends TableBatchStore {
  constructor(db: DatabaseSync) {
    super(
      new SqliteRecordTable<Batch, BatchQueries>(db, {
        table: 'batches',
        columns: ['status', 'deadline', 'overdue_alerted_at'],
        values: (b) => [b.status, b.deadline, b.overdueAlertedAt ?? null],
        queries: {
          overdue: (now) => [
            `WHERE status = 'open' AND overdue_alerted_at IS NULL AND deadline < ? ORDER BY deadline, id`,
            [now],
          ],
        },
      }),
    );
  }
}
