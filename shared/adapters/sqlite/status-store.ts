import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { BatchedStatusStore, type StatusQueries } from '../../status/store';
import type { DocumentRecord } from '../../status/types';
import { SqliteRecordTable } from './record-table';

/**
 * The embedded default StatusStore: `documents` rows, with the batched forms (registerMany, claimMany,
 * completeMany) each in one transaction.
 */
export class SqliteStatusStore extends BatchedStatusStore {
  constructor(private readonly db: DatabaseSync) {
    super(
      new SqliteRecordTable<DocumentRecord, StatusQueries>(db, {
        table: 'documents',
        columns: ['status', 'batch_id'],
        values: (r) => [r.status, r.batchId ?? null],
        queries: {
          list: (filter) => {
            const where: string[] = [];
            const params: SQLInputValue[] = [];
            if (filter.status !== undefined) {
              where.push('status = ?');
              params.push(filter.status);
            }
            if (filter.batchId !== undefined) {
              where.push('batch_id = ?');
              params.push(filter.batchId);
            }
            return [`${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`, params];
          },
        },
      }),
    );
  }

  override close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
    return Promise.resolve();
  }
}
