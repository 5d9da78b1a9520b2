/**
 * Many documents' transitions at once: one transaction where the store supports it (registerMany,
 * claimMany, completeMany), else the single transitions one after another. The outcome per document is
 * the same either way.
 */
import type {
  ClaimItem,
  ClaimRequest,
  ClaimResult,
  CompletionItem,
  DocumentRecord,
  NewDocument,
} from './types';
import type { StatusStore } from '../ports/status-store';

export async function registerAll(
  store: StatusStore,
  docs: readonly NewDocument[],
  now: number,
): Promise<DocumentRecord[]> {
  if (store.registerMany) return store.registerMany(docs, now);
  const out: DocumentRecord[] = [];
  for (const d of docs) out.push(await store.register(d, now));
  return out;
}

export async function claimAll(
  store: StatusStore,
  items: readonly ClaimItem[],
  lease: Omit<ClaimRequest, 'owner'>,
): Promise<ClaimResult[]> {
  if (store.claimMany) return store.claimMany(items, lease);
  const out: ClaimResult[] = [];
  for (const i of items) out.push(await store.claim(i.id, { ...lease, owner: i.owner }));
  return out;
}

/**
 * Completes each item and answers per item: undefined, or the error that kept it from being completed (a
 * lost lease, or the store failing for that item). A store with `completeMany` applies them in one
 * transaction and throws when that transaction fails (nothing is completed then).
 */
export async function completeAll(
  store: StatusStore,
  items: readonly CompletionItem[],
  now: number,
): Promise<(Error | undefined)[]> {
  if (store.completeMany) return store.completeMany(items, now);
  const out: (Error | undefined)[] = [];
  for (const i of items) {
    try {
      await store.complete(i.id, i.owner, i.update, now);
      out.push(undefined);
    } catch (err) {
      out.push(err instanceof Error ? err : new Error(String(err)));
    }
  }
  return out;
}
