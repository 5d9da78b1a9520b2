/** Reconciliation: completions present in one ledger and missing from the other are copied over. */
import { toGraphmillError } from '../errors';
import type { Logger } from '../logging';
import type { Clock } from '../ports/clock';
import type { CompletionLedger } from '../ports/completion-ledger';
import type { Policy } from '../resilience';
import type { CompletionRecord } from '../tracking/types';

export interface ReconcileDeps {
  readonly firestore: CompletionLedger;
  readonly bigquery: CompletionLedger;
  readonly firestorePolicy: Policy;
  readonly bigqueryPolicy: Policy;
  readonly logger: Logger;
}

export interface ReconcileReport {
  readonly since: string;
  readonly until: string;
  readonly firestoreRecords: number;
  readonly bigqueryRecords: number;
  /** Whether the analytics ledger's aggregate table was refreshed (BigQuery's MERGE). */
  readonly aggregatesRefreshed: boolean;
  /** Completion ids copied from BigQuery into Firestore. */
  readonly repairedInFirestore: readonly string[];
  /** Completion ids copied from Firestore into BigQuery. */
  readonly repairedInBigquery: readonly string[];
  readonly failed: readonly { completionId: string; target: 'firestore' | 'bigquery'; error: string }[];
}

export interface Reconcile {
  /** Reconciles the last `windowMs` (up to and including now). */
  recent(windowMs: number, options?: { readonly logger?: Logger }): Promise<ReconcileReport>;
}

export function makeReconcile(deps: ReconcileDeps & { readonly clock: Clock }): Reconcile {
  return {
    recent(windowMs, options = {}) {
      const now = deps.clock();
      return reconcile(
        { ...deps, logger: options.logger ?? deps.logger },
        { since: now - windowMs, until: now + 1 },
      );
    },
  };
}

/** Finds completions present in one store and missing from the other in [since, until), and copies them over. */
export async function reconcile(
  deps: ReconcileDeps,
  window: { since: number; until: number },
): Promise<ReconcileReport> {
  const filter = { since: window.since, until: window.until };
  const [inFirestore, inBigquery] = await Promise.all([
    deps.firestorePolicy.execute(() => deps.firestore.list(filter)),
    deps.bigqueryPolicy.execute(() => deps.bigquery.list(filter)),
  ]);
  const fsIds = new Set(inFirestore.map((r) => r.completionId));
  const bqIds = new Set(inBigquery.map((r) => r.completionId));
  const failed: { completionId: string; target: 'firestore' | 'bigquery'; error: string }[] = [];
  const copy = async (records: CompletionRecord[], target: 'firestore' | 'bigquery'): Promise<string[]> => {
    const done: string[] = [];
    const ledger = target === 'firestore' ? deps.firestore : deps.bigquery;
    const policy = target === 'firestore' ? deps.firestorePolicy : deps.bigqueryPolicy;
    for (const r of records) {
      try {
        await policy.execute(() => ledger.record(r));
        done.push(r.completionId);
      } catch (err) {
        failed.push({ completionId: r.completionId, target, error: toGraphmillError(err).message });
      }
    }
    return done;
  };
  const repairedInFirestore = await copy(
    inBigquery.filter((r) => !fsIds.has(r.completionId)),
    'firestore',
  );
  const repairedInBigquery = await copy(
    inFirestore.filter((r) => !bqIds.has(r.completionId)),
    'bigquery',
  );
  // Last, so the aggregate includes what was just repaired.
  let aggregatesRefreshed = false;
  if (deps.bigquery.refreshAggregates) {
    try {
      const refresh = deps.bigquery.refreshAggregates.bind(deps.bigquery);
      await deps.bigqueryPolicy.execute(() => refresh({ since: window.since }));
      aggregatesRefreshed = true;
    } catch (err) {
      failed.push({
        completionId: '*',
        target: 'bigquery',
        error: `aggregate refresh: ${toGraphmillError(err).message}`,
      });
    }
  }
  const report: ReconcileReport = {
    since: new Date(window.since).toISOString(),
    aggregatesRefreshed,
    until: new Date(window.until).toISOString(),
    firestoreRecords: inFirestore.length,
    bigqueryRecords: inBigquery.length,
    repairedInFirestore,
    repairedInBigquery,
    failed,
  };
  const level =
    failed.length > 0
      ? 'error'
      : repairedInFirestore.length + repairedInBigquery.length > 0
        ? 'warn'
        : 'info';
  deps.logger[level]('reconciliation finished', {
    firestoreRecords: report.firestoreRecords,
    bigqueryRecords: report.bigqueryRecords,
    repairedInFirestore: repairedInFirestore.length,
    repairedInBigquery: repairedInBigquery.length,
    failed: failed.length,
  });
  return report;
}
