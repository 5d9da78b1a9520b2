import {
  byDeadline,
  completeBatch,
  createBatch,
  isOverdue,
  markOverdue,
  recordUnitOutcome,
} from '../../batches/transitions';
import type { Batch, BatchSummary, NewBatch, UnitOutcome, UnitResult } from '../../batches/types';
import type { BatchStore } from '../../ports/batch-store';

/**
 * Batches kept in a Map. Each method runs synchronously between awaits, which makes every transition
 * atomic within the process: the in-memory equivalent of a Firestore transaction.
 */
export class InMemoryBatchStore implements BatchStore {
  private readonly batches = new Map<string, Batch>();

  create(batch: NewBatch, now: number): Promise<Batch> {
    return this.run(() => this.save(createBatch(this.batches.get(batch.id), batch, now)));
  }

  get(id: string): Promise<Batch | undefined> {
    return Promise.resolve(this.batches.get(id));
  }

  recordUnit(
    batchId: string,
    phase: string,
    unit: string,
    outcome: UnitOutcome,
    now: number,
  ): Promise<UnitResult> {
    return this.run(() => {
      const { result, next } = recordUnitOutcome(
        this.batches.get(batchId),
        batchId,
        phase,
        unit,
        outcome,
        now,
      );
      if (next) this.save(next);
      return result;
    });
  }

  complete(batchId: string, summary: BatchSummary, now: number): Promise<Batch> {
    return this.run(() => {
      const { batch, next } = completeBatch(this.batches.get(batchId), batchId, summary, now);
      return next ? this.save(next) : batch;
    });
  }

  listOverdue(now: number): Promise<Batch[]> {
    return Promise.resolve([...this.batches.values()].filter((b) => isOverdue(b, now)).sort(byDeadline));
  }

  markOverdueAlerted(batchId: string, now: number): Promise<boolean> {
    return this.run(() => {
      const { next } = markOverdue(this.batches.get(batchId), batchId, now);
      if (next) this.save(next);
      return next !== undefined;
    });
  }

  private save(batch: Batch): Batch {
    this.batches.set(batch.id, batch);
    return batch;
  }

  /** Turns a throwing transition into a rejected promise, like the asynchronous adapters. */
  private run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
