import type { DatabaseSync } from 'node:sqlite';
import { completeBatch, createBatch, markOverdue, recordUnitOutcome } from '../../batches/transitions';
import type { Batch, BatchSummary, NewBatch, UnitOutcome, UnitResult } from '../../batches/types';
import type { BatchStore } from '../../ports/batch-store';
import { inTransaction, prepared, settle } from './database';

/**
 * The embedded BatchStore: one row per batch (the record as JSON), every transition a read-modify-write
 * inside BEGIN IMMEDIATE, so of two connections recording the last units only one sees the phase complete.
 */
export class SqliteBatchStore implements BatchStore {
  constructor(private readonly db: DatabaseSync) {}

  create(batch: NewBatch, now: number): Promise<Batch> {
    return this.tx(() => {
      const existing = this.read(batch.id);
      const next = createBatch(existing, batch, now);
      if (next !== existing) this.write(next);
      return next;
    });
  }

  get(id: string): Promise<Batch | undefined> {
    return settle(this.db, () => this.read(id));
  }

  recordUnit(
    batchId: string,
    phase: string,
    unit: string,
    outcome: UnitOutcome,
    now: number,
  ): Promise<UnitResult> {
    return this.tx(() => {
      const { result, next } = recordUnitOutcome(this.read(batchId), batchId, phase, unit, outcome, now);
      if (next) this.write(next);
      return result;
    });
  }

  complete(batchId: string, summary: BatchSummary, now: number): Promise<Batch> {
    return this.tx(() => {
      const { batch, next } = completeBatch(this.read(batchId), batchId, summary, now);
      if (next) this.write(next);
      return batch;
    });
  }

  listOverdue(now: number): Promise<Batch[]> {
    return settle(this.db, () => {
      const rows = prepared(
        this.db,
        `SELECT record FROM batches
           WHERE status = 'open' AND overdue_alerted_at IS NULL AND deadline < ?
           ORDER BY deadline, id`,
      ).all(now) as { record: string }[];
      return rows.map((r) => JSON.parse(r.record) as Batch);
    });
  }

  markOverdueAlerted(batchId: string, now: number): Promise<boolean> {
    return this.tx(() => {
      const { next } = markOverdue(this.read(batchId), batchId, now);
      if (next) this.write(next);
      return next !== undefined;
    });
  }

  private read(id: string): Batch | undefined {
    const row = prepared(this.db, 'SELECT record FROM batches WHERE id = ?').get(id) as
      { record: string } | undefined;
    return row ? (JSON.parse(row.record) as Batch) : undefined;
  }

  private write(batch: Batch): void {
    prepared(
      this.db,
      `INSERT INTO batches (id, status, deadline, overdue_alerted_at, record) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, deadline = excluded.deadline,
           overdue_alerted_at = excluded.overdue_alerted_at, record = excluded.record`,
    ).run(batch.id, batch.status, batch.deadline, batch.overdueAlertedAt ?? null, JSON.stringify(batch));
  }

  private tx<T>(fn: () => T): Promise<T> {
    return settle(this.db, () => inTransaction(this.db, fn));
  }
}
