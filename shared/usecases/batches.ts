/** Batch submission: records the batch (units and deadline), then publishes one ingest request per unit. */
import type { Batch } from '../batches/types';
import { badRequest, notFound } from '../errors';
import { boundedList, describeList } from '../errors/problem';
import type { IngestRequest } from '../events/types';
import type { Logger } from '../logging';
import type { BatchStore } from '../ports/batch-store';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import type { StatusStore } from '../ports/status-store';
import { firstPhase } from './completions';

export interface SubmitBatchRequest {
  readonly batchId: string;
  readonly documentIds: readonly string[];
  /** Epoch ms; default now + the configured batch deadline. */
  readonly deadline?: number;
  readonly correlationId?: string;
}

export interface BatchesDeps {
  readonly status: StatusStore;
  readonly batches: BatchStore;
  readonly publisher: EventPublisher;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly phases: readonly string[];
  readonly ingestRequestsTopic: string;
  readonly batchDeadlineMs: number;
}

export interface Batches {
  submit(request: SubmitBatchRequest, options?: { readonly logger?: Logger }): Promise<Batch>;
  get(batchId: string): Promise<Batch | undefined>;
}

export function makeBatches(deps: BatchesDeps): Batches {
  return {
    get: (batchId) => deps.batches.get(batchId),
    async submit(request, options = {}) {
      const logger = options.logger ?? deps.logger;
      const units = [...new Set(request.documentIds)];
      if (units.length === 0) throw badRequest('A batch needs at least one document');
      const missing: string[] = [];
      for (const id of units) if (!(await deps.status.get(id))) missing.push(id);
      if (missing.length > 0) {
        const listed = boundedList(missing);
        throw notFound(`Documents not registered: ${describeList(listed, ', ')}`, {
          details: { missing: listed.listed, missingCount: missing.length },
        });
      }
      const now = deps.clock();
      const correlationId = request.correlationId ?? request.batchId;
      const batch = await deps.batches.create(
        {
          id: request.batchId,
          units,
          phases: deps.phases,
          deadline: request.deadline ?? now + deps.batchDeadlineMs,
          correlationId,
        },
        now,
      );
      const phase = firstPhase(deps.phases);
      for (const documentId of units) {
        const message: IngestRequest = {
          documentId,
          action: 'process_document',
          batchId: batch.id,
          phase,
          correlationId,
          requestedAt: new Date(now).toISOString(),
        };
        await deps.publisher.publish(deps.ingestRequestsTopic, message, {
          idempotencyKey: `${batch.id}:${documentId}:${phase}`,
          attributes: { batchId: batch.id },
        });
      }
      logger.notice('batch submitted', {
        batchId: batch.id,
        units: units.length,
        deadline: new Date(batch.deadline).toISOString(),
      });
      return batch;
    },
  };
}
