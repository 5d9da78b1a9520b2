import type { DeadLetter, DeadLetterFilter } from '../dlq/types';

export interface DeadLetterStore {
  /** Inserts or replaces the entry with this id (the policy in shared/dlq computes the new state). */
  put(entry: DeadLetter): Promise<void>;
  get(id: string): Promise<DeadLetter | undefined>;
  list(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  /**
   * Atomically moves up to `limit` entries that are `pending` with nextAttemptAt <= now (or `replaying`
   * with an expired lease) to `replaying` under `owner`'s lease, and returns them.
   */
  claimDue(now: number, limit: number, owner: string, leaseMs: number): Promise<DeadLetter[]>;
}
