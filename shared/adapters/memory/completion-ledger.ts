import { foldAggregate } from '../../tracking/aggregate';
import type { CompletionFilter, CompletionRecord, PhaseAggregate } from '../../tracking/types';
import type { CompletionLedger } from '../../ports/completion-ledger';

const aggregateKey = (documentId: string, phase: string) => `${documentId}\u0000${phase}`;

/** Ledger order on every adapter: occurredAt, then completionId. */
function byOccurredAt(a: CompletionRecord, b: CompletionRecord): number {
  return (
    a.occurredAt - b.occurredAt ||
    (a.completionId < b.completionId ? -1 : a.completionId > b.completionId ? 1 : 0)
  );
}

function matches(r: CompletionRecord, f: CompletionFilter): boolean {
  return (
    (f.documentId === undefined || r.documentId === f.documentId) &&
    (f.batchId === undefined || r.batchId === f.batchId) &&
    (f.phase === undefined || r.phase === f.phase) &&
    (f.since === undefined || r.occurredAt >= f.since) &&
    (f.until === undefined || r.occurredAt < f.until)
  );
}

/**
 * Completions kept in Maps. Each method runs synchronously between awaits, so writing a record and
 * folding it into its aggregate is atomic within the process.
 */
export class InMemoryCompletionLedger implements CompletionLedger {
  private readonly records = new Map<string, CompletionRecord>();
  private readonly aggregates = new Map<string, PhaseAggregate>();

  record(record: CompletionRecord): Promise<void> {
    if (this.records.has(record.completionId)) return Promise.resolve();
    this.records.set(record.completionId, record);
    const key = aggregateKey(record.documentId, record.phase);
    this.aggregates.set(key, foldAggregate(this.aggregates.get(key), record));
    return Promise.resolve();
  }

  get(completionId: string): Promise<CompletionRecord | undefined> {
    return Promise.resolve(this.records.get(completionId));
  }

  list(filter: CompletionFilter = {}): Promise<CompletionRecord[]> {
    const rows = [...this.records.values()].filter((r) => matches(r, filter)).sort(byOccurredAt);
    return Promise.resolve(filter.limit === undefined ? rows : rows.slice(0, filter.limit));
  }

  aggregate(documentId: string, phase: string): Promise<PhaseAggregate | undefined> {
    return Promise.resolve(this.aggregates.get(aggregateKey(documentId, phase)));
  }
}
