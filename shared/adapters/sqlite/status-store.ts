import type { DatabaseSync } from 'node:sqlite';
import {
  claimDocument,
  completeDocument,
  failDocument,
  progressDocument,
  registerDocument,
} from '../../status/transitions';
import { isLeaseLost } from '../../errors';
import type {
  ClaimItem,
  ClaimRequest,
  ClaimResult,
  CompletionItem,
  CompletionUpdate,
  DocumentError,
  DocumentRecord,
  DocumentStatus,
  FailedStatus,
  NewDocument,
  Stage,
} from '../../status/types';
import type { StatusStore } from '../../ports/status-store';
import { inTransaction, prepared, refuseWhenFull, settle } from './database';

/** The embedded default StatusStore: one row per document, the record as JSON, transitions in transactions. */
export class SqliteStatusStore implements StatusStore {
  constructor(private readonly db: DatabaseSync) {}

  register(doc: NewDocument, now: number): Promise<DocumentRecord> {
    return this.tx(() => {
      refuseWhenFull(this.db);
      const next = registerDocument(this.read(doc.id), doc, now);
      this.write(next);
      return next;
    });
  }

  get(id: string): Promise<DocumentRecord | undefined> {
    return settle(this.db, () => this.read(id));
  }

  list(filter: { status?: DocumentStatus; batchId?: string } = {}): Promise<DocumentRecord[]> {
    const where: string[] = [];
    const params: string[] = [];
    if (filter.status !== undefined) {
      where.push('status = ?');
      params.push(filter.status);
    }
    if (filter.batchId !== undefined) {
      where.push('batch_id = ?');
      params.push(filter.batchId);
    }
    const sql = `SELECT record FROM documents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return settle(this.db, () =>
      (prepared(this.db, sql).all(...params) as { record: string }[]).map(
        (r) => JSON.parse(r.record) as DocumentRecord,
      ),
    );
  }

  claim(id: string, request: ClaimRequest): Promise<ClaimResult> {
    return this.tx(() => {
      refuseWhenFull(this.db);
      const { result, next } = claimDocument(this.read(id), request);
      if (next) this.write(next);
      return result;
    });
  }

  progress(id: string, owner: string, stage: Stage, progress: number, now: number): Promise<void> {
    return this.apply(id, (r) => progressDocument(r, id, owner, stage, progress, now));
  }

  complete(id: string, owner: string, update: CompletionUpdate, now: number): Promise<void> {
    return this.apply(id, (r) => completeDocument(r, id, owner, update, now));
  }

  fail(id: string, owner: string, error: DocumentError, now: number, status?: FailedStatus): Promise<void> {
    return this.apply(id, (r) => failDocument(r, id, owner, error, now, status));
  }

  delete(id: string): Promise<boolean> {
    return settle(
      this.db,
      () => Number(prepared(this.db, 'DELETE FROM documents WHERE id = ?').run(id).changes) > 0,
    );
  }

  registerMany(docs: readonly NewDocument[], now: number): Promise<DocumentRecord[]> {
    return this.tx(() => {
      refuseWhenFull(this.db);
      return docs.map((doc) => {
        const next = registerDocument(this.read(doc.id), doc, now);
        this.write(next);
        return next;
      });
    });
  }

  claimMany(items: readonly ClaimItem[], lease: Omit<ClaimRequest, 'owner'>): Promise<ClaimResult[]> {
    return this.tx(() => {
      refuseWhenFull(this.db);
      return items.map((item) => {
        const { result, next } = claimDocument(this.read(item.id), { ...lease, owner: item.owner });
        if (next) this.write(next);
        return result;
      });
    });
  }

  completeMany(items: readonly CompletionItem[], now: number): Promise<(Error | undefined)[]> {
    return this.tx(() =>
      items.map((item) => {
        try {
          this.write(completeDocument(this.read(item.id), item.id, item.owner, item.update, now));
          return undefined;
        } catch (err) {
          if (isLeaseLost(err)) return err;
          throw err;
        }
      }),
    );
  }

  close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
    return Promise.resolve();
  }

  private read(id: string): DocumentRecord | undefined {
    const row = prepared(this.db, 'SELECT record FROM documents WHERE id = ?').get(id) as
      { record: string } | undefined;
    return row ? (JSON.parse(row.record) as DocumentRecord) : undefined;
  }

  private write(record: DocumentRecord): void {
    prepared(
      this.db,
      `INSERT INTO documents (id, status, batch_id, record) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, batch_id = excluded.batch_id, record = excluded.record`,
    ).run(record.id, record.status, record.batchId ?? null, JSON.stringify(record));
  }

  private apply(id: string, fn: (r: DocumentRecord | undefined) => DocumentRecord): Promise<void> {
    return this.tx(() => this.write(fn(this.read(id))));
  }

  private tx<T>(fn: () => T): Promise<T> {
    return settle(this.db, () => inTransaction(this.db, fn));
  }
}
