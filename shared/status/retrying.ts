import { isLeaseLost } from '../errors';
import type { Policy } from '../resilience';
import type { StatusStore } from '../ports/status-store';

/** Carries an error through the retry policy untouched: a lost lease is final for this run. */
class NotRetried extends Error {
  constructor(readonly inner: unknown) {
    super('not retried');
  }
}

/**
 * Runs every StatusStore call through a bounded retry (and breaker), so one transient store error does
 * not fail a whole run. Every transition is safe to repeat: a repeated claim by the same owner keeps its
 * lease (counting one more attempt), and complete/fail check the owner. A lost lease is not retried:
 * another run owns the document.
 */
export function withRetries(store: StatusStore, policy: Policy): StatusStore {
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await policy.execute(async () => {
        try {
          return await fn();
        } catch (err) {
          if (isLeaseLost(err)) throw new NotRetried(err);
          throw err;
        }
      });
    } catch (err) {
      throw err instanceof NotRetried ? err.inner : err;
    }
  };
  const registerMany = store.registerMany?.bind(store);
  const claimMany = store.claimMany?.bind(store);
  const completeMany = store.completeMany?.bind(store);
  return {
    register: (doc, now) => run(() => store.register(doc, now)),
    get: (id) => run(() => store.get(id)),
    list: (filter) => run(() => store.list(filter)),
    claim: (id, request) => run(() => store.claim(id, request)),
    progress: (id, owner, stage, progress, now) => run(() => store.progress(id, owner, stage, progress, now)),
    complete: (id, owner, update, now) => run(() => store.complete(id, owner, update, now)),
    fail: (id, owner, error, now, status) => run(() => store.fail(id, owner, error, now, status)),
    delete: (id) => run(() => store.delete(id)),
    close: () => store.close(),
    // The batched forms are all-or-nothing transactions, so they are retried the same way.
    ...(registerMany && { registerMany: (docs, now) => run(() => registerMany(docs, now)) }),
    ...(claimMany && { claimMany: (items, lease) => run(() => claimMany(items, lease)) }),
    ...(completeMany && { completeMany: (items, now) => run(() => completeMany(items, now)) }),
  };
}
