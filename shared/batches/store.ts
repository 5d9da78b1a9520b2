/**
 * The one BatchStore: the pure transitions in ./transitions.ts applied to a RecordTable. Of the concurrent
 * calls recording a phase's last units, the backend's transaction lets exactly one write the change that
 * sets `triggeredAt`, and only that call is told the phase completed.
 */
import type { BatchStore } from '../ports/batch-store';
import type { RecordTable } from '../ports/record-table';
import { completeBatch, createBatch, markOverdue, recordUnitOutcome } from './transitions';
import type { Batch, BatchSummary, NewBatch, UnitOutcome, UnitResult } from './types';

/** `overdue`: open batches past their deadline (the parameter: now) not alerted yet, by deadline then id. */
export type BatchQueries = { readonly overdue: number };

export type BatchTable = RecordTable<Batch, BatchQueries>;

export class TableBatchStore implements BatchStore {
  constructor(private readonly table: BatchTable) {}

  create(batch: NewBatch, now: number): Promise<Batch> {
    return this.table.update(
      batch.id,
      (existing) => {
        const next = createBatch(existing, batch, now);
        return next === existing ? { result: next } : { next, result: next };
      },
      { operation: 'create batch' },
    );
  }

  get(id: string): Promise<Batch | undefined> {
    return this.table.get(id);
  }

  recordUnit(
    batchId: string,
    phase: string,
    unit: string,
    outcome: UnitOutcome,
    now: number,
  ): Promise<UnitResult> {
    return this.table.update(
      batchId,
      (existing) => recordUnitOutcome(existing, batchId, phase, unit, outcome, now),
      { operation: 'record batch unit' },
    );
  }

  complete(batchId: string, summary: BatchSummary, now: number): Promise<Batch> {
    return this.table.update(
      batchId,
      (existing) => {
        const { batch, next } = completeBatch(existing, batchId, summary, now);
        return next ? { next, result: batch } : { result: batch };
      },
      { operation: 'complete batch' },
    );
  }

  listOverdue(now: number): Promise<Batch[]> {
    return this.table.query('overdue', now);
  }

  markOverdueAlerted(batchId: string, now: number): Promise<boolean> {
    return this.table.update(
      batchId,
      (existing) => {
        const { next } = markOverdue(existing, batchId, now);
        return next ? { next, result: true } : { result: false };
      },
      { operation: 'mark batch overdue' },
    );
  }
}
