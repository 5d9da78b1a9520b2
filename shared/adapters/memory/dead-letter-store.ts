import { byDueAt, byId, claimEntry, isClaimable } from '../../dlq/transitions';
import type { DeadLetter, DeadLetterFilter } from '../../dlq/types';
import type { DeadLetterStore } from '../../ports/dead-letter-store';

/**
 * Dead letters kept in a Map. `claimDue` runs synchronously between awaits, so two concurrent callers
 * never take the same entry.
 */
export class InMemoryDeadLetterStore implements DeadLetterStore {
  private readonly entries = new Map<string, DeadLetter>();

  put(entry: DeadLetter): Promise<void> {
    this.entries.set(entry.id, entry);
    return Promise.resolve();
  }

  get(id: string): Promise<DeadLetter | undefined> {
    return Promise.resolve(this.entries.get(id));
  }

  list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    const rows = [...this.entries.values()]
      .filter((e) => filter.status === undefined || e.status === filter.status)
      .sort(byId);
    return Promise.resolve(filter.limit === undefined ? rows : rows.slice(0, filter.limit));
  }

  claimDue(now: number, limit: number, owner: string, leaseMs: number): Promise<DeadLetter[]> {
    const due = [...this.entries.values()]
      .filter((e) => isClaimable(e, now))
      .sort(byDueAt)
      .slice(0, Math.max(0, limit));
    const claimed = due.map((e) => claimEntry(e, now, owner, leaseMs));
    for (const e of claimed) this.entries.set(e.id, e);
    return Promise.resolve(claimed);
  }
}
