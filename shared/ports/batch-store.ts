import type { Batch, BatchSummary, NewBatch, UnitOutcome, UnitResult } from '../batches/types';

export interface BatchStore {
  /** Creates the batch; re-submitting the same id with the same units returns the existing batch, other units are a 409. */
  create(batch: NewBatch, now: number): Promise<Batch>;
  get(id: string): Promise<Batch | undefined>;
  /**
   * Records one unit's outcome for one phase, atomically. Unknown units or phases are rejected (400).
   * Idempotent: recording the same outcome again changes nothing.
   */
  recordUnit(
    batchId: string,
    phase: string,
    unit: string,
    outcome: UnitOutcome,
    now: number,
  ): Promise<UnitResult>;
  /** Stores the batch summary when its last phase completes; marks the batch completed. */
  complete(batchId: string, summary: BatchSummary, now: number): Promise<Batch>;
  /** Open batches past their deadline that have not been alerted yet. */
  listOverdue(now: number): Promise<Batch[]>;
  /** Marks the batch as alerted; returns false if it already was (so only one alert goes out). */
  markOverdueAlerted(batchId: string, now: number): Promise<boolean>;
}
