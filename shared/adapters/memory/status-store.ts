import {
  claimDocument,
  completeDocument,
  failDocument,
  progressDocument,
  registerDocument,
} from '../../status/transitions';
import type {
  ClaimRequest,
  ClaimResult,
  CompletionUpdate,
  DocumentError,
  DocumentRecord,
  FailedStatus,
  NewDocument,
} from '../../status/types';
import type { StatusStore } from '../../ports/status-store';

/**
 * Status kept in a Map. Each method runs synchronously between awaits, which makes every transition
 * atomic within the process: the in-memory equivalent of a Firestore transaction.
 */
export class InMemoryStatusStore implements StatusStore {
  private readonly records = new Map<string, DocumentRecord>();

  register(doc: NewDocument, now: number): Promise<DocumentRecord> {
    const next = registerDocument(this.records.get(doc.id), doc, now);
    this.records.set(doc.id, next);
    return Promise.resolve(next);
  }

  get(id: string): Promise<DocumentRecord | undefined> {
    return Promise.resolve(this.records.get(id));
  }

  list(filter: { status?: DocumentRecord['status']; batchId?: string } = {}): Promise<DocumentRecord[]> {
    const rows = [...this.records.values()].filter(
      (r) =>
        (filter.status === undefined || r.status === filter.status) &&
        (filter.batchId === undefined || r.batchId === filter.batchId),
    );
    rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return Promise.resolve(rows);
  }

  claim(id: string, request: ClaimRequest): Promise<ClaimResult> {
    const { result, next } = claimDocument(this.records.get(id), request);
    if (next) this.records.set(id, next);
    return Promise.resolve(result);
  }

  progress(
    id: string,
    owner: string,
    stage: DocumentRecord['stage'] & string,
    progress: number,
    now: number,
  ) {
    return this.apply(id, (r) => progressDocument(r, id, owner, stage, progress, now));
  }

  complete(id: string, owner: string, update: CompletionUpdate, now: number): Promise<void> {
    return this.apply(id, (r) => completeDocument(r, id, owner, update, now));
  }

  fail(id: string, owner: string, error: DocumentError, now: number, status?: FailedStatus) {
    return this.apply(id, (r) => failDocument(r, id, owner, error, now, status));
  }

  delete(id: string): Promise<boolean> {
    return Promise.resolve(this.records.delete(id));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private apply(id: string, fn: (r: DocumentRecord | undefined) => DocumentRecord): Promise<void> {
    try {
      this.records.set(id, fn(this.records.get(id)));
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
