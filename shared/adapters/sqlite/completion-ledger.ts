import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { foldAggregate } from '../../tracking/aggregate';
import type { CompletionFilter, CompletionRecord, PhaseAggregate } from '../../tracking/types';
import type { CompletionLedger } from '../../ports/completion-ledger';
import { inTransaction, prepared, settle } from './database';

/**
 * The embedded CompletionLedger: one row per completion (the record as JSON) and one aggregate row per
 * document and phase, written in the same transaction so an aggregate never counts a record twice.
 */
export class SqliteCompletionLedger implements CompletionLedger {
  constructor(private readonly db: DatabaseSync) {}

  record(record: CompletionRecord): Promise<void> {
    return settle(this.db, () => inTransaction(this.db, () => this.insert(record)));
  }

  /** Many records in one transaction: each is recorded exactly as `record` would. */
  recordMany(records: readonly CompletionRecord[]): Promise<void> {
    return settle(this.db, () =>
      inTransaction(this.db, () => {
        for (const r of records) this.insert(r);
      }),
    );
  }

  private insert(record: CompletionRecord): void {
    const inserted = prepared(
      this.db,
      `INSERT INTO completions (completion_id, document_id, batch_id, phase, occurred_at, record)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (completion_id) DO NOTHING`,
    ).run(
      record.completionId,
      record.documentId,
      record.batchId ?? null,
      record.phase,
      record.occurredAt,
      JSON.stringify(record),
    );
    // Already recorded: a redelivery, which must not be counted again.
    if (Number(inserted.changes) === 0) return;
    const next = foldAggregate(this.readAggregate(record.documentId, record.phase), record);
    prepared(
      this.db,
      `INSERT INTO completion_aggregates (document_id, phase, aggregate) VALUES (?, ?, ?)
       ON CONFLICT (document_id, phase) DO UPDATE SET aggregate = excluded.aggregate`,
    ).run(next.documentId, next.phase, JSON.stringify(next));
  }

  get(completionId: string): Promise<CompletionRecord | undefined> {
    return settle(this.db, () => {
      const row = prepared(this.db, 'SELECT record FROM completions WHERE completion_id = ?').get(
        completionId,
      ) as { record: string } | undefined;
      return row ? (JSON.parse(row.record) as CompletionRecord) : undefined;
    });
  }

  list(filter: CompletionFilter = {}): Promise<CompletionRecord[]> {
    return settle(this.db, () => {
      const where: string[] = [];
      const params: SQLInputValue[] = [];
      const add = (clause: string, value: SQLInputValue | undefined) => {
        if (value === undefined) return;
        where.push(clause);
        params.push(value);
      };
      add('document_id = ?', filter.documentId);
      add('batch_id = ?', filter.batchId);
      add('phase = ?', filter.phase);
      add('occurred_at >= ?', filter.since);
      add('occurred_at < ?', filter.until);
      let sql = `SELECT record FROM completions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                 ORDER BY occurred_at, completion_id`;
      if (filter.limit !== undefined) {
        sql += ' LIMIT ?';
        params.push(filter.limit);
      }
      const rows = prepared(this.db, sql).all(...params) as { record: string }[];
      return rows.map((r) => JSON.parse(r.record) as CompletionRecord);
    });
  }

  aggregate(documentId: string, phase: string): Promise<PhaseAggregate | undefined> {
    return settle(this.db, () => this.readAggregate(documentId, phase));
  }

  private readAggregate(documentId: string, phase: string): PhaseAggregate | undefined {
    const row = prepared(
      this.db,
      'SELECT aggregate FROM completion_aggregates WHERE document_id = ? AND phase = ?',
    ).get(documentId, phase) as { aggregate: string } | undefined;
    return row ? (JSON.parse(row.aggregate) as PhaseAggregate) : undefined;
  }
}
