import type { DocumentReference } from '@google-cloud/firestore';
import { byDueAt, claimEntry, isClaimable } from '../../dlq/transitions';
import type { DeadLetter, DeadLetterFilter } from '../../dlq/types';
import type { DeadLetterStore } from '../../ports/dead-letter-store';
import {
  COLLECTIONS,
  TRANSACTION_ATTEMPTS,
  dataOf,
  encodeDocId,
  firestoreCall,
  type FirestoreProvider,
} from './client';

/**
 * Dead letters in `deadLetters/{encoded id}`, the DeadLetter as the document's fields. `claimDue` finds
 * candidates with two queries outside any transaction (cheap, possibly stale), then leases each one in
 * its own transaction that re-checks it is still claimable: of two replayers racing for an entry, the
 * second sees the first one's live lease and skips it.
 */
export class FirestoreDeadLetterStore implements DeadLetterStore {
  constructor(private readonly firestore: FirestoreProvider) {}

  put(entry: DeadLetter): Promise<void> {
    return firestoreCall('put dead letter', async () => {
      await this.ref(entry.id).set(entry);
    });
  }

  get(id: string): Promise<DeadLetter | undefined> {
    return firestoreCall('get dead letter', async () => dataOf<DeadLetter>(await this.ref(id).get()));
  }

  list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return firestoreCall('list dead letters', async () => {
      let query = this.collection().orderBy('id');
      if (filter.status !== undefined) query = query.where('status', '==', filter.status);
      if (filter.limit !== undefined) query = query.limit(filter.limit);
      const snap = await query.get();
      return snap.docs.map((d) => d.data() as DeadLetter);
    });
  }

  claimDue(now: number, limit: number, owner: string, leaseMs: number): Promise<DeadLetter[]> {
    if (limit <= 0) return Promise.resolve([]);
    return firestoreCall('claim due dead letters', async () => {
      const [pending, stale] = await Promise.all([
        this.collection()
          .where('status', '==', 'pending')
          .where('nextAttemptAt', '<=', now)
          .orderBy('nextAttemptAt')
          .limit(limit)
          .get(),
        this.collection()
          .where('status', '==', 'replaying')
          .where('leaseExpiresAt', '<=', now)
          .orderBy('leaseExpiresAt')
          .limit(limit)
          .get(),
      ]);
      const candidates = [...pending.docs, ...stale.docs]
        .map((d) => d.data() as DeadLetter)
        .sort(byDueAt)
        .slice(0, limit);
      const settled = await Promise.allSettled(
        candidates.map((c) => this.claimOne(c.id, now, owner, leaseMs)),
      );
      // Entries already leased must reach the caller, or they would sit idle until their lease expires:
      // one failed claim fails the call only when nothing was claimed. Results keep candidate order.
      const claimed = settled.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
      const failure = settled.find((r) => r.status === 'rejected');
      if (failure && claimed.length === 0) throw failure.reason;
      return claimed;
    });
  }

  /** Leases one entry if it is still claimable when the transaction reads it. */
  private claimOne(id: string, now: number, owner: string, leaseMs: number): Promise<DeadLetter | undefined> {
    const ref = this.ref(id);
    return this.firestore().runTransaction(
      async (tx) => {
        const current = dataOf<DeadLetter>(await tx.get(ref));
        if (!current || !isClaimable(current, now)) return undefined;
        const next = claimEntry(current, now, owner, leaseMs);
        tx.set(ref, next);
        return next;
      },
      { maxAttempts: TRANSACTION_ATTEMPTS },
    );
  }

  private collection() {
    return this.firestore().collection(COLLECTIONS.deadLetters);
  }

  private ref(id: string): DocumentReference {
    return this.collection().doc(encodeDocId(id));
  }
}
