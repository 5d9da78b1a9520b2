import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { TableDeadLetterStore, type DeadLetterQueries } from '../../dlq/store';
import type { DeadLetter } from '../../dlq/types';
import { SqliteRecordTable } from './record-table';

/**
 * The embedded DeadLetterStore: `dead_letters` rows. `claimDue` selects and leases in one BEGIN IMMEDIATE
 * transaction, so two connections never take the same entry.
 */
export class SqliteDeadLetterStore extends TableDeadLetterStore {
  constructor(db: DatabaseSync) {
    super(
      new SqliteRecordTable<DeadLetter, DeadLetterQueries>(db, {
        table: 'dead_letters',
        columns: ['status', 'next_attempt_at', 'lease_expires_at'],
        values: (e) => [e.status, e.nextAttemptAt ?? null, e.leaseExpiresAt ?? null],
        queries: {
          list: (filter) => {
            const params: SQLInputValue[] = [];
            let sql = '';
            if (filter.status !== undefined) {
              sql += 'WHERE status = ? ';
              params.push(filter.status);
            }
            sql += 'ORDER BY id';
            if (filter.limit !== undefined) {
              sql += ' LIMIT ?';
              params.push(filter.limit);
            }
            return [sql, params];
          },
          // The same order as byDueAt: longest waiting first, then id.
          due: ({ now, limit }) => [
            `WHERE (status = 'pending' AND next_attempt_at <= ?) OR (status = 'replaying' AND lease_expires_at <= ?)
               ORDER BY CASE status WHEN 'replaying' THEN lease_expires_at ELSE next_attempt_at END, id
               LIMIT ?`,
            [now, now, limit],
          ],
        },
      }),
    );
  }
}
