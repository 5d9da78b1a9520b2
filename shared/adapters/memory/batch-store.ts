import { byDeadline, isOverdue } from '../../batches/transitions';
import { TableBatchStore, type BatchQueries } from '../../batches/store';
import type { Batch } from '../../batches/types';
import { MemoryRecordTable } from './record-table';

/** Batches kept in a Map. */
export class InMemoryBatchStore extends TableBatchStore {
  constructor() {
    super(
      new MemoryRecordTable<Batch, BatchQueries>({
        overdue: (batches, now) => batches.filter((b) => isOverdue(b, now)).sort(byDeadline),
      }),
    );
  }
}
