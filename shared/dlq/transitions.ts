/**
 * The replay lease on dead letters, as pure functions shared by every DeadLetterStore adapter. Which
 * entries exist, when they are due and how often they are retried is the policy's business
 * (shared/dlq/policy.ts); these only decide which entries `claimDue` may take and what taking one means.
 */
import type { DeadLetter } from './types';

/** Due `pending` entries, and `replaying` ones whose replayer stopped renewing its lease (it crashed). */
export function isClaimable(entry: DeadLetter, now: number): boolean {
  if (entry.status === 'pending') return entry.nextAttemptAt !== undefined && entry.nextAttemptAt <= now;
  if (entry.status === 'replaying') return entry.leaseExpiresAt !== undefined && entry.leaseExpiresAt <= now;
  return false;
}

/** When the entry became claimable: replay the longest-waiting entries first. */
export function dueAt(entry: DeadLetter): number {
  return (entry.status === 'replaying' ? entry.leaseExpiresAt : entry.nextAttemptAt) ?? 0;
}

/** Claim order shared by the adapters: longest waiting first, then id, so runs are reproducible. */
export function byDueAt(a: DeadLetter, b: DeadLetter): number {
  return dueAt(a) - dueAt(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The entry moved to `replaying` under `owner`'s lease; attempts are counted by the policy, not here. */
export function claimEntry(entry: DeadLetter, now: number, owner: string, leaseMs: number): DeadLetter {
  return { ...entry, status: 'replaying', leaseOwner: owner, leaseExpiresAt: now + leaseMs, updatedAt: now };
}

/** Entries ordered by id: the listing order of every adapter. */
export function byId(a: DeadLetter, b: DeadLetter): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
