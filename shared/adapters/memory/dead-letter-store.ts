import { TableDeadLetterStore, type DeadLetterQueries } from '../../dlq/store';
import { byDueAt, byId, isClaimable } from '../../dlq/transitions';
import type { DeadLetter } from '../../dlq/types';
import { MemoryRecordTable } from './record-table';

/** Dead letters kept in a Map: `claimDue` finds and leases in one synchronous step, so two callers never share an entry. */
export class InMemoryDeadLetterStore extends TableDeadLetterStore {
  constructor() {
    super(
      new MemoryRecordTable<DeadLetter, DeadLetterQueries>({
        list: (entries, filter) => {
          const rows = entries
            .filter((e) => filter.status === undefined || e.status === filter.status)
            .sort(byId);
          return filter.limit === undefined ? rows : rows.slice(0, filter.limit);
        },
        due: (entries, { now, limit }) =>
          entries
            .filter((e) => isClaimable(e, now))
            .sort(byDueAt)
            .slice(0, limit),
      }),
    );
  }
}
