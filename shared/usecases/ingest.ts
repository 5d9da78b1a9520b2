/**
 * Ingesting documents: synchronous runs (the orchestrate function, the CLI, group commit for `graphmill
 * ingest`) and ingest-request deliveries. Each runs the document and records its completion.
 *
 * A delivery follows one rule: a retryable failure throws (the broker redelivers), a permanent one is
 * recorded (status, dead letter, alert) and the event is acknowledged. Every handler is idempotent.
 */
import type { DeadLetterOperation } from '../dlq/types';
import { badRequest, toGraphmillError } from '../errors';
import { deliveryAgeMs, type Delivery } from '../events/deliveries';
import type { IngestRequest } from '../events/types';
import type { Logger } from '../logging';
import { runDocumentGroup, type GroupResult } from '../pipeline/group';
import { runDocument, type DocumentOutcome, type PipelineDeps } from '../pipeline/process-document';
import type { Clock } from '../ports/clock';
import type { CompletionRecord } from '../tracking/types';
import { failedFields, firstPhase, isFinalFailure, succeededFields, type Completions } from './completions';
import type { PermanentFailure } from './permanent-failure';

export type RunRequest = Pick<IngestRequest, 'documentId' | 'action'> & { readonly correlationId?: string };

export interface IngestDeps {
  readonly pipeline: PipelineDeps;
  readonly completions: Completions;
  readonly failure: PermanentFailure;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly phases: readonly string[];
  readonly ingestRequestsTopic: string;
  readonly maxEventAgeMs: number;
  /** Chunks of small documents written per Neo4j transaction by the group runner. */
  readonly maxGroupChunks: number;
}

export interface Ingest {
  /**
   * Runs one document and records the outcome as a completion, for callers that answer synchronously:
   * the caller sees a failure as an error, so nothing is dead-lettered here.
   */
  runAndRecord(request: RunRequest, options?: { readonly logger?: Logger }): Promise<DocumentOutcome>;
  /**
   * runAndRecord for many documents with group commit (`graphmill ingest`): the documents share status and
   * Neo4j transactions (see pipeline/group.ts), and their completions are written to each ledger together.
   * Every document keeps the outcome, the completion record and the error that runAndRecord would give it.
   */
  runAndRecordGroup(requests: readonly RunRequest[]): Promise<GroupResult[]>;
  /** An ingest-requests delivery. */
  handleDelivery(delivery: Delivery<IngestRequest>): Promise<void>;
}

export function makeIngest(deps: IngestDeps): Ingest {
  const phase0 = firstPhase(deps.phases);
  return {
    async runAndRecord(request, options = {}) {
      const logger = options.logger ?? deps.logger;
      const ingest: IngestRequest = { ...request, requestedAt: new Date(deps.clock()).toISOString() };
      try {
        const outcome = await runDocument(options.logger ? { ...deps.pipeline, logger } : deps.pipeline, {
          documentId: request.documentId,
          action: request.action,
        });
        if (outcome.status !== 'deleted') {
          await deps.completions.record(ingest, phase0, 'succeeded', succeededFields(outcome), logger);
        }
        return outcome;
      } catch (err) {
        const e = toGraphmillError(err);
        if (isFinalFailure(e)) {
          await deps.completions.record(ingest, phase0, 'failed', failedFields(e), logger);
        }
        throw e;
      }
    },

    async runAndRecordGroup(requests) {
      const results = await runDocumentGroup(
        deps.pipeline,
        requests.map((r) => ({ documentId: r.documentId, action: r.action })),
        { maxGroupChunks: deps.maxGroupChunks },
      );
      const records: CompletionRecord[] = [];
      results.forEach((result, i) => {
        const request = requests[i];
        if (!request) return;
        if (result.ok) {
          if (result.outcome.status !== 'deleted') {
            records.push(
              deps.completions.recordFor(request, phase0, 'succeeded', succeededFields(result.outcome)),
            );
          }
        } else if (isFinalFailure(result.error)) {
          records.push(deps.completions.recordFor(request, phase0, 'failed', failedFields(result.error)));
        }
      });
      await deps.completions.recordMany(records);
      return results;
    },

    async handleDelivery(delivery) {
      const log = deps.logger.child({ eventId: delivery.eventId });
      if (!delivery.ok) {
        await deps.failure.deadLetterEvent(
          {
            topic: deps.ingestRequestsTopic,
            payload: delivery.payload,
            idempotencyKey: delivery.idempotencyKey,
          },
          delivery.error,
        );
        return; // acknowledged: redelivering a malformed message cannot help
      }
      const request = delivery.message;
      const docLog = log.child({
        documentId: request.documentId,
        ...(request.batchId !== undefined ? { batchId: request.batchId } : {}),
        ...(request.correlationId !== undefined ? { correlationId: request.correlationId } : {}),
      });
      const phase = request.phase ?? phase0;
      const op: DeadLetterOperation = {
        kind: 'document',
        documentId: request.documentId,
        action: request.action,
        ...(request.batchId !== undefined ? { batchId: request.batchId } : {}),
        phase,
        ...(request.correlationId !== undefined ? { correlationId: request.correlationId } : {}),
      };

      const age = deliveryAgeMs(delivery, deps.clock());
      if (age !== undefined && age > deps.maxEventAgeMs) {
        const e = badRequest(
          `Event is ${Math.round(age / 1000)} s old, past the ${deps.maxEventAgeMs / 1000} s limit`,
        );
        docLog.warn('event too old; dead-lettered instead of retried', { ageMs: age });
        await deps.failure.failDocument(op, request, phase, e, 'dead_lettered');
        return;
      }

      try {
        const outcome = await runDocument(
          { ...deps.pipeline, logger: docLog },
          { documentId: request.documentId, action: request.action },
        );
        if (outcome.status === 'deleted') return;
        await deps.completions.record(request, phase, 'succeeded', succeededFields(outcome));
      } catch (err) {
        const e = toGraphmillError(err);
        if (e.retryable) {
          docLog.warn('ingest failed; Pub/Sub will redeliver', { code: e.code, error: e.message });
          throw e;
        }
        await deps.failure.failDocument(op, request, phase, e, 'failed');
      }
    },
  };
}
