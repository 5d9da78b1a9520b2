import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { claimEntry, isClaimable } from '../../dlq/transitions';
import type { DeadLetter, DeadLetterFilter } from '../../dlq/types';
import type { DeadLetterStore } from '../../ports/dead-letter-store';
import { inTransaction, prepared, settle } from './database';

/**
 * The embedded DeadLetterStore: one row per entry (the record as JSON) with the columns `claimDue`
 * selects on. `claimDue` selects and leases in one BEGIN IMMEDIATE transaction, so two connections
 * never take the same entry.
 */
export class SqliteDeadLetterStore implements DeadLetterStore {
  constructor(private readonly db: DatabaseSync) {}

  put(entry: DeadLetter): Promise<void> {
    return settle(this.db, () => this.write(entry));
  }

  get(id: string): Promise<DeadLetter | undefined> {
    return settle(this.db, () => {
      const row = prepared(this.db, 'SELECT record FROM dead_letters WHERE id = ?').get(id) as
        { record: string } | undefined;
      return row ? (JSON.parse(row.record) as DeadLetter) : undefined;
    });
  }

  list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return settle(this.db, () => {
      const params: SQLInputValue[] = [];
      let sql = 'SELECT record FROM dead_letters';
      if (filter.status !== undefined) {
        sql += ' WHERE status = ?';
        params.push(filter.status);
      }
      sql += ' ORDER BY id';
      if (filter.limit !== undefined) {
        sql += ' LIMIT ?';
        params.push(filter.limit);
      }
      const rows = prepared(this.db, sql).all(...params) as { record: string }[];
      return rows.map((r) => JSON.parse(r.record) as DeadLetter);
    });
  }

  claimDue(now: number, limit: number, owner: string, leaseMs: number): Promise<DeadLetter[]> {
    if (limit <= 0) return Promise.resolve([]);
    return settle(this.db, () =>
      inTransaction(this.db, () => {
        // The same order as byDueAt: longest waiting first, then id.
        const rows = prepared(
          this.db,
          `SELECT record FROM dead_letters
             WHERE (status = 'pending' AND next_attempt_at <= ?) OR (status = 'replaying' AND lease_expires_at <= ?)
             ORDER BY CASE status WHEN 'replaying' THEN lease_expires_at ELSE next_attempt_at END, id
             LIMIT ?`,
        ).all(now, now, limit) as { record: string }[];
        const claimed = rows
          .map((r) => JSON.parse(r.record) as DeadLetter)
          .filter((e) => isClaimable(e, now))
          .map((e) => claimEntry(e, now, owner, leaseMs));
        for (const e of claimed) this.write(e);
        return claimed;
      }),
    );
  }

  private write(entry: DeadLetter): void {
    prepared(
      this.db,
      `INSERT INTO dead_letters (id, status, next_attempt_at, lease_expires_at, record) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, next_attempt_at = excluded.next_attempt_at,
           lease_expires_at = excluded.lease_expires_at, record = excluded.record`,
    ).run(
      entry.id,
      entry.status,
      entry.nextAttemptAt ?? null,
      entry.leaseExpiresAt ?? null,
      JSON.stringify(entry),
    );
  }
}
