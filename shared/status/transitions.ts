/**
 * The status state machine as pure functions over records. Every StatusStore adapter loads a record,
 * applies one of these inside its own transaction or lock, and stores the result, so the rules live
 * in one place and the contract suite holds every adapter to them.
 */
import { leaseLost } from '../errors';
import type {
  ClaimRequest,
  ClaimResult,
  CompletionUpdate,
  DocumentError,
  DocumentRecord,
  FailedStatus,
  NewDocument,
  Stage,
} from './types';

/** A record under construction: any optional field may be set to undefined to clear it. */
type Draft<T> = { -readonly [K in keyof T]?: T[K] | undefined };

/** Drops undefined fields, so records compare equal across adapters (exactOptionalPropertyTypes). */
function compact(record: Draft<DocumentRecord>): DocumentRecord {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) if (v !== undefined) out[k] = v;
  return out as unknown as DocumentRecord;
}

export function registerDocument(
  existing: DocumentRecord | undefined,
  doc: NewDocument,
  now: number,
): DocumentRecord {
  if (!existing) {
    return compact({ ...doc, status: 'pending', attempt: 0, createdAt: now, updatedAt: now });
  }
  const changed =
    existing.source !== doc.source ||
    existing.title !== doc.title ||
    existing.content !== doc.content ||
    existing.batchId !== doc.batchId;
  if (!changed) return existing;
  return compact({
    ...existing,
    source: doc.source,
    title: doc.title,
    content: doc.content,
    batchId: doc.batchId ?? existing.batchId,
    updatedAt: now,
  });
}

export function hasLiveLease(record: DocumentRecord, now: number): boolean {
  return (
    record.status === 'processing' &&
    record.leaseOwner !== undefined &&
    record.leaseExpiresAt !== undefined &&
    record.leaseExpiresAt > now
  );
}

export function claimDocument(
  record: DocumentRecord | undefined,
  req: ClaimRequest,
): { result: ClaimResult; next?: DocumentRecord } {
  if (!record) return { result: { outcome: 'not_found' } };
  if (hasLiveLease(record, req.now) && record.leaseOwner !== req.owner) {
    return {
      result: {
        outcome: 'leased',
        leaseOwner: record.leaseOwner as string,
        leaseExpiresAt: record.leaseExpiresAt as number,
      },
    };
  }
  const next = compact({
    ...record,
    status: 'processing',
    stage: undefined,
    progress: 0,
    leaseOwner: req.owner,
    leaseExpiresAt: req.now + req.leaseMs,
    attempt: record.attempt + 1,
    updatedAt: req.now,
  });
  return { result: { outcome: 'claimed', record: next, previous: record }, next };
}

function assertOwner(record: DocumentRecord | undefined, id: string, owner: string): DocumentRecord {
  if (!record || record.status !== 'processing' || record.leaseOwner !== owner) {
    throw leaseLost(`Lease on document ${id} is no longer held by this run`, {
      details: { documentId: id },
    });
  }
  return record;
}

export function progressDocument(
  record: DocumentRecord | undefined,
  id: string,
  owner: string,
  stage: Stage,
  progress: number,
  now: number,
): DocumentRecord {
  const r = assertOwner(record, id, owner);
  return compact({ ...r, stage, progress: Math.max(0, Math.min(100, Math.round(progress))), updatedAt: now });
}

export function completeDocument(
  record: DocumentRecord | undefined,
  id: string,
  owner: string,
  update: CompletionUpdate,
  now: number,
): DocumentRecord {
  const r = assertOwner(record, id, owner);
  return compact({
    ...r,
    ...update,
    status: 'completed',
    stage: undefined,
    progress: 100,
    leaseOwner: undefined,
    leaseExpiresAt: undefined,
    error: undefined,
    updatedAt: now,
    completedAt: now,
  });
}

export function failDocument(
  record: DocumentRecord | undefined,
  id: string,
  owner: string,
  error: DocumentError,
  now: number,
  status: FailedStatus = 'failed',
): DocumentRecord {
  const r = assertOwner(record, id, owner);
  return compact({
    ...r,
    status,
    error,
    leaseOwner: undefined,
    leaseExpiresAt: undefined,
    updatedAt: now,
  });
}
