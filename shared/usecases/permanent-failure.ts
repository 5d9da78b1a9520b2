/**
 * The permanent-failure path, once for every use case: a failure that redelivery cannot fix is recorded
 * (the document's status, a dead letter alerted when it needs a person, the unit's failed completion) and
 * the event is acknowledged.
 */
import { writeDeadLetter, type DeadLetterDeps } from '../dlq/replay';
import type { DeadLetterOperation } from '../dlq/types';
import { toGraphmillError, type GraphmillError } from '../errors';
import type { IngestRequest } from '../events/types';
import type { Logger } from '../logging';
import type { Alerter } from '../ports/alerter';
import type { Clock } from '../ports/clock';
import type { StatusStore } from '../ports/status-store';
import { failedFields, type Completions } from './completions';

export interface PermanentFailureDeps {
  readonly status: StatusStore;
  readonly deadLetters: DeadLetterDeps;
  readonly completions: Completions;
  readonly alerter: Alerter;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly functionName: string;
}

/** An event's raw message, as it is kept in a dead letter. */
export interface RawEvent {
  readonly topic: string;
  readonly payload: string;
  readonly idempotencyKey: string | undefined;
}

export interface PermanentFailure {
  /**
   * A dead letter and the unit's failed completion. The document is `failed` for a permanent error (the
   * pipeline recorded it) and `dead_lettered` when its retries ran out (an event too old to retry).
   */
  failDocument(
    op: DeadLetterOperation,
    request: IngestRequest,
    phase: string,
    e: GraphmillError,
    status: 'failed' | 'dead_lettered',
  ): Promise<void>;
  /** An event that could not be decoded or applied: kept for manual review, alerted once. */
  deadLetterEvent(event: RawEvent, e: GraphmillError): Promise<void>;
  /**
   * An ingest request out of delivery attempts (what Pub/Sub's dead-letter topic would receive). The dead
   * letter first: it is what keeps the work from being lost. Marking the status is second and may fail on
   * its own (the store may be what failed the deliveries).
   */
  outOfDeliveries(request: IngestRequest, e: GraphmillError): Promise<void>;
  markDeadLettered(documentId: string, e: GraphmillError): Promise<void>;
}

export function makePermanentFailure(deps: PermanentFailureDeps): PermanentFailure {
  /**
   * Moves a document to `dead_lettered` when no run holds it (the pipeline already did this for failures
   * inside a run; this covers events that never reached the pipeline, like expired ones).
   */
  const markDeadLettered = async (documentId: string, e: GraphmillError): Promise<void> => {
    const status = deps.status;
    const current = await status.get(documentId);
    if (!current || current.status === 'dead_lettered' || current.status === 'completed') return;
    const owner = `dead-letter-${deps.clock()}`;
    const claim = await status.claim(documentId, { owner, leaseMs: 60_000, now: deps.clock() });
    if (claim.outcome !== 'claimed') return;
    await status.fail(
      documentId,
      owner,
      {
        stage: claim.previous.error?.stage ?? 'claim',
        code: e.code,
        message: e.message,
        retryable: e.retryable,
      },
      deps.clock(),
      'dead_lettered',
    );
  };

  return {
    markDeadLettered,
    async failDocument(op, request, phase, e, status) {
      if (status === 'dead_lettered') await markDeadLettered(request.documentId, e);
      await writeDeadLetter(deps.deadLetters, op, e);
      await deps.completions.record(request, phase, 'failed', failedFields(e));
    },
    async deadLetterEvent(event, e) {
      deps.logger.warn('event dead-lettered', {
        topic: event.topic,
        code: e.code,
        error: e.message,
        idempotencyKey: event.idempotencyKey,
      });
      await writeDeadLetter(
        deps.deadLetters,
        { kind: 'event', topic: event.topic, payload: event.payload, reason: e.message },
        e,
      );
    },
    async outOfDeliveries(request, e) {
      const op: DeadLetterOperation = {
        kind: 'document',
        documentId: request.documentId,
        action: request.action,
        ...(request.batchId !== undefined ? { batchId: request.batchId } : {}),
        ...(request.phase !== undefined ? { phase: request.phase } : {}),
        ...(request.correlationId !== undefined ? { correlationId: request.correlationId } : {}),
      };
      try {
        await writeDeadLetter(deps.deadLetters, op, e);
      } catch (err) {
        deps.logger.critical('dead letter could not be written; the operation is only in this log entry', {
          operation: op,
          code: e.code,
          error: toGraphmillError(err).message,
        });
        await deps.alerter.send({
          severity: 'critical',
          title: 'A dead letter could not be written',
          functionName: deps.functionName,
          errorType: toGraphmillError(err).code,
          message: `Document ${op.documentId} ran out of delivery attempts (${e.code}) and its dead letter was not stored`,
          documentId: op.documentId,
          ...(op.batchId !== undefined ? { batchId: op.batchId } : {}),
        });
      }
      try {
        await markDeadLettered(request.documentId, e);
      } catch (err) {
        deps.logger.warn('could not mark the document dead_lettered', {
          documentId: request.documentId,
          error: toGraphmillError(err).message,
        });
      }
    },
  };
}
