import { TableStatusStore, type StatusQueries } from '../../status/store';
import type { DocumentRecord } from '../../status/types';
import { MemoryRecordTable, byId } from './record-table';

/** Status kept in a Map; transitions one by one (no batched forms: callers fall back to the single ones). */
export class InMemoryStatusStore extends TableStatusStore {
  constructor() {
    super(
      new MemoryRecordTable<DocumentRecord, StatusQueries>({
        list: (records, filter) =>
          records
            .filter(
              (r) =>
                (filter.status === undefined || r.status === filter.status) &&
                (filter.batchId === undefined || r.batchId === filter.batchId),
            )
            .sort(byId),
      }),
    );
  }
}
