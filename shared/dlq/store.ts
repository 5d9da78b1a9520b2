/**
 * The one DeadLetterStore over a RecordTable. Which entries exist and when they are due is the policy's
 * business (./policy.ts); the store only keeps them and leases due ones with the functions in ./transitions.ts.
 */
import type { DeadLetterStore } from '../ports/dead-letter-store';
import type { RecordTable } from '../ports/record-table';
import { claimEntry, isClaimable } from './transitions';
import type { DeadLetter, DeadLetterFilter } from './types';

/**
 * `list`: the entries matching the filter, by id. `due`: up to `limit` claimable entries (see isClaimable)
 * in byDueAt order.
 */
export type DeadLetterQueries = {
  readonly list: DeadLetterFilter;
  readonly due: { readonly now: number; readonly limit: number };
};

export type DeadLetterTable = RecordTable<DeadLetter, DeadLetterQueries>;

export class TableDeadLetterStore implements DeadLetterStore {
  constructor(private readonly table: DeadLetterTable) {}

  put(entry: DeadLetter): Promise<void> {
    return this.table.put(entry, { operation: 'put dead letter' });
  }

  get(id: string): Promise<DeadLetter | undefined> {
    return this.table.get(id);
  }

  list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return this.table.query('list', filter);
  }

  /** Each candidate is re-checked where it is leased: of two replayers racing for it, the second skips it. */
  claimDue(now: number, limit: number, owner: string, leaseMs: number): Promise<DeadLetter[]> {
    if (limit <= 0) return Promise.resolve([]);
    return this.table.updateFound(
      'due',
      { now, limit },
      (entry) => (isClaimable(entry, now) ? claimEntry(entry, now, owner, leaseMs) : undefined),
      { operation: 'claim due dead letters' },
    );
  }
}
