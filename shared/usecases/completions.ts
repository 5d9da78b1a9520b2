/**
 * Recording a unit's outcome, once for every use case: the completion record (dual-written by the
 * tracker) and, for a batch unit, its announcement on `phase-completions`.
 */
import type { GraphmillError } from '../errors';
import type { PhaseCompletionEvent } from '../events/types';
import type { Logger } from '../logging';
import type { DocumentOutcome } from '../pipeline/process-document';
import type { Alerter } from '../ports/alerter';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import { completionIdFor } from '../tracking/ids';
import { reportTracking, reportTrackingMany, type CompletionTracker } from '../tracking/tracker';
import type { CompletionRecord } from '../tracking/types';

/** What a completion names: the unit, and the batch and correlation it belongs to. */
export interface UnitRef {
  readonly documentId: string;
  readonly batchId?: string | undefined;
  readonly correlationId?: string | undefined;
}

export type OutcomeFields = {
  discriminator: string;
  chunkCount?: number;
  durationMs?: number;
  contentHash?: string;
  errorCode?: string;
};

export interface CompletionsDeps {
  readonly tracker: CompletionTracker;
  readonly publisher: EventPublisher;
  readonly alerter: Alerter;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly functionName: string;
  readonly phaseCompletionsTopic: string;
}

export interface Completions {
  recordFor(
    unit: UnitRef,
    phase: string,
    status: 'succeeded' | 'failed',
    fields: OutcomeFields,
  ): CompletionRecord;
  /** Records the completion and announces a batch unit's; a failed publish throws (the caller is retried). */
  record(
    unit: UnitRef,
    phase: string,
    status: 'succeeded' | 'failed',
    fields: OutcomeFields,
    logger?: Logger,
  ): Promise<void>;
  recordMany(records: readonly CompletionRecord[]): Promise<void>;
}

/** The phase a document's own ingestion records: the first of the configured ones. */
export const firstPhase = (phases: readonly string[]): string => phases[0] ?? 'ingest';

export const failedFields = (e: GraphmillError): OutcomeFields => ({
  discriminator: e.code,
  errorCode: e.code,
});

export const succeededFields = (outcome: DocumentOutcome): OutcomeFields => ({
  discriminator: outcome.contentHash ?? 'none',
  chunkCount: outcome.chunkCount,
  durationMs: outcome.durationMs,
  ...(outcome.contentHash !== undefined ? { contentHash: outcome.contentHash } : {}),
});

/**
 * A failure the direct paths (runAndRecord, the group runner) record as the unit's outcome: permanent, and
 * about a registered document. A retryable one is retried first; an unknown document has no unit to record.
 */
export const isFinalFailure = (e: GraphmillError): boolean => !e.retryable && e.code !== 'not_found';

export function makeCompletions(deps: CompletionsDeps): Completions {
  const recordFor: Completions['recordFor'] = (unit, phase, status, extra) => {
    const { discriminator, ...fields } = extra;
    const completionId = completionIdFor({
      documentId: unit.documentId,
      phase,
      batchId: unit.batchId,
      status,
      discriminator,
    });
    return {
      completionId,
      documentId: unit.documentId,
      ...(unit.batchId !== undefined ? { batchId: unit.batchId } : {}),
      phase,
      status,
      ...fields,
      functionName: deps.functionName,
      ...(unit.correlationId !== undefined ? { correlationId: unit.correlationId } : {}),
      occurredAt: deps.clock(),
    };
  };
  return {
    recordFor,
    async record(unit, phase, status, extra, logger = deps.logger) {
      const record = recordFor(unit, phase, status, extra);
      const result = await deps.tracker.record(record);
      await reportTracking(result, {
        functionName: deps.functionName,
        record,
        logger,
        alerter: deps.alerter,
      });
      if (unit.batchId === undefined) return;
      const completionId = record.completionId;
      const event: PhaseCompletionEvent = {
        eventId: completionId,
        batchId: unit.batchId,
        phase,
        unit: unit.documentId,
        status,
        occurredAt: new Date(record.occurredAt).toISOString(),
        correlationId: unit.correlationId ?? unit.batchId,
      };
      // A failed publish throws: the ingest event is redelivered, the run finds the document unchanged, and
      // the same completion (same id) is announced again.
      await deps.publisher.publish(deps.phaseCompletionsTopic, event, {
        idempotencyKey: completionId,
        attributes: { batchId: unit.batchId, phase },
      });
    },
    async recordMany(records) {
      if (records.length === 0) return;
      await reportTrackingMany(await deps.tracker.recordMany(records), records, {
        functionName: deps.functionName,
        logger: deps.logger,
        alerter: deps.alerter,
      });
    },
  };
}
