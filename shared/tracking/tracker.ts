/**
 * The CompletionTracker writes every completion twice: to the orchestration ledger (Firestore) and to
 * the analytics ledger (BigQuery), each through its own bounded retry, Firestore behind a circuit
 * breaker. It never throws: it returns what succeeded, and `reportTracking` turns that into the right
 * log severity and alert, so no caller can ignore a lost write.
 */
import type { Alerter } from '../ports/alerter';
import { toGraphmillError } from '../errors';
import type { Logger } from '../logging';
import type { Policy } from '../resilience';
import type { CompletionFilter, CompletionRecord, PhaseAggregate } from './types';
import type { CompletionLedger } from '../ports/completion-ledger';

export interface TrackingResult {
  readonly firestore: boolean;
  readonly bigquery: boolean;
}

export interface CompletionTrackerDeps {
  /** Orchestration ledger (Firestore on GCP). */
  readonly firestore: CompletionLedger;
  /** Analytics ledger (BigQuery on GCP). */
  readonly bigquery: CompletionLedger;
  /** Retry + breaker around every Firestore call. */
  readonly firestorePolicy: Policy;
  /** Retry (+ breaker) around every BigQuery call. */
  readonly bigqueryPolicy: Policy;
  readonly logger: Logger;
}

export interface CompletionTracker {
  record(record: CompletionRecord): Promise<TrackingResult>;
  /**
   * Many records: one write per ledger where the ledger can take them together (else one by one), each
   * ledger still behind its own retry and breaker. The result holds for every record.
   */
  recordMany(records: readonly CompletionRecord[]): Promise<TrackingResult>;
  /** Completion state for orchestration: Firestore, or BigQuery while Firestore is down. */
  aggregate(documentId: string, phase: string): Promise<PhaseAggregate | undefined>;
  list(filter: CompletionFilter): Promise<CompletionRecord[]>;
}

export function makeCompletionTracker(deps: CompletionTrackerDeps): CompletionTracker {
  const attempt = async (
    name: 'firestore' | 'bigquery',
    policy: Policy,
    write: () => Promise<void>,
    record: CompletionRecord,
    count = 1,
  ): Promise<boolean> => {
    try {
      await policy.execute(write);
      return true;
    } catch (err) {
      const e = toGraphmillError(err);
      deps.logger.warn(`completion not written to ${name}`, {
        store: name,
        completionId: record.completionId,
        documentId: record.documentId,
        ...(count > 1 ? { records: count } : {}),
        code: e.code,
        error: e.message,
      });
      return false;
    }
  };

  /** Reads from Firestore; if Firestore fails (or its breaker is open), from BigQuery. */
  const readWithFallback = async <T>(
    what: string,
    read: (ledger: CompletionLedger) => Promise<T>,
  ): Promise<T> => {
    try {
      return await deps.firestorePolicy.execute(() => read(deps.firestore));
    } catch (err) {
      deps.logger.warn(`reading ${what} from BigQuery: Firestore is unavailable`, {
        code: toGraphmillError(err).code,
      });
      return deps.bigqueryPolicy.execute(() => read(deps.bigquery));
    }
  };

  return {
    async record(record) {
      const [firestore, bigquery] = await Promise.all([
        attempt('firestore', deps.firestorePolicy, () => deps.firestore.record(record), record),
        attempt('bigquery', deps.bigqueryPolicy, () => deps.bigquery.record(record), record),
      ]);
      return { firestore, bigquery };
    },
    async recordMany(records) {
      const first = records[0];
      if (!first) return { firestore: true, bigquery: true };
      const all = (ledger: CompletionLedger) => async () => {
        if (ledger.recordMany) return ledger.recordMany(records);
        for (const r of records) await ledger.record(r);
      };
      const [firestore, bigquery] = await Promise.all([
        attempt('firestore', deps.firestorePolicy, all(deps.firestore), first, records.length),
        attempt('bigquery', deps.bigqueryPolicy, all(deps.bigquery), first, records.length),
      ]);
      return { firestore, bigquery };
    },
    aggregate: (documentId, phase) =>
      readWithFallback('completion state', (l) => l.aggregate(documentId, phase)),
    list: (filter) => readWithFallback('completions', (l) => l.list(filter)),
  };
}

export interface TrackingContext {
  readonly functionName: string;
  readonly record: CompletionRecord;
  readonly logger: Logger;
  readonly alerter: Alerter;
}

/**
 * What every caller does with a TrackingResult: both stores failed -> CRITICAL and an alert (the
 * completion exists nowhere but in this log line: reconciliation cannot repair it); one failed -> WARNING
 * (reconciliation repairs it from the other store).
 */
export function reportTracking(result: TrackingResult, ctx: TrackingContext): Promise<void> {
  const { record, ...rest } = ctx;
  return reportTrackingMany(result, [record], rest);
}

/**
 * reportTracking for records written together (recordMany): the same log line for each record, and one
 * alert for all of them rather than one per record.
 */
export async function reportTrackingMany(
  result: TrackingResult,
  records: readonly CompletionRecord[],
  ctx: Omit<TrackingContext, 'record'>,
): Promise<void> {
  const first = records[0];
  if ((result.firestore && result.bigquery) || !first) return;
  const lost = !result.firestore && !result.bigquery;
  for (const record of records) {
    const fields = {
      completionId: record.completionId,
      documentId: record.documentId,
      ...(record.batchId !== undefined ? { batchId: record.batchId } : {}),
      phase: record.phase,
      status: record.status,
      firestore: result.firestore,
      bigquery: result.bigquery,
    };
    if (lost) {
      ctx.logger.critical('completion lost: neither Firestore nor BigQuery recorded it', {
        ...fields,
        record,
      });
    } else {
      ctx.logger.warn(
        `completion recorded in ${result.firestore ? 'Firestore' : 'BigQuery'} only; reconciliation will repair it`,
        fields,
      );
    }
  }
  if (!lost) return;
  const what =
    records.length === 1
      ? `Completion ${first.completionId} of ${first.documentId} (${first.phase}: ${first.status}) was`
      : `${records.length} completions (${first.documentId} and ${records.length - 1} more) were`;
  await ctx.alerter.send({
    severity: 'critical',
    title: 'Completion tracking failed in both Firestore and BigQuery',
    functionName: ctx.functionName,
    errorType: 'tracking_failed',
    message: `${what} not recorded anywhere; ${records.length === 1 ? 'it is' : 'they are'} in this function's log`,
    documentId: first.documentId,
    ...(first.batchId !== undefined ? { batchId: first.batchId } : {}),
    ...(first.correlationId !== undefined ? { correlationId: first.correlationId } : {}),
  });
}
