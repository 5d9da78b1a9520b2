/**
 * A batch unit's phase completion: records it, and when every unit of the batch has finished the phase,
 * triggers the next phase exactly once (or, after the last phase, writes the batch summary).
 */
import { summarizeBatch } from '../batches/transitions';
import type { Batch, BatchSummary, UnitResult } from '../batches/types';
import { toGraphmillError } from '../errors';
import type { Delivery } from '../events/deliveries';
import type { PhaseCompletionEvent } from '../events/types';
import type { Logger } from '../logging';
import type { Alerter } from '../ports/alerter';
import type { BatchStore } from '../ports/batch-store';
import type { Clock } from '../ports/clock';
import { reportTracking, type CompletionTracker } from '../tracking/tracker';
import type { CompletionRecord } from '../tracking/types';
import type { PermanentFailure } from './permanent-failure';
import type { TriggerPhase } from './phase-trigger';

export interface PhaseTransitionDeps {
  readonly tracker: CompletionTracker;
  readonly batches: BatchStore;
  readonly triggerPhase: TriggerPhase;
  readonly failure: Pick<PermanentFailure, 'deadLetterEvent'>;
  readonly alerter: Alerter;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly functionName: string;
  readonly phaseCompletionsTopic: string;
}

export interface PhaseTransitionResult {
  readonly recorded: boolean;
  readonly phaseCompleted?: string;
  readonly triggered?: string;
  readonly summary?: BatchSummary;
}

export interface PhaseTransition {
  handleDelivery(delivery: Delivery<PhaseCompletionEvent>): Promise<PhaseTransitionResult>;
}

export function makePhaseTransition(deps: PhaseTransitionDeps): PhaseTransition {
  return {
    async handleDelivery(delivery) {
      const raw = {
        topic: deps.phaseCompletionsTopic,
        payload: delivery.payload,
        idempotencyKey: delivery.idempotencyKey,
      };
      if (!delivery.ok) {
        await deps.failure.deadLetterEvent(raw, delivery.error);
        return { recorded: false };
      }
      const completion = delivery.message;
      const log = deps.logger.child({
        batchId: completion.batchId,
        documentId: completion.unit,
        correlationId: completion.correlationId,
      });
      const occurredAt = Date.parse(completion.occurredAt);
      const record: CompletionRecord = {
        completionId: completion.eventId,
        documentId: completion.unit,
        batchId: completion.batchId,
        phase: completion.phase,
        status: completion.status,
        functionName: deps.functionName,
        correlationId: completion.correlationId,
        occurredAt: Number.isFinite(occurredAt) ? occurredAt : deps.clock(),
      };
      const tracked = await deps.tracker.record(record);
      await reportTracking(tracked, {
        functionName: deps.functionName,
        record,
        logger: log,
        alerter: deps.alerter,
      });

      let result;
      try {
        result = await deps.batches.recordUnit(
          completion.batchId,
          completion.phase,
          completion.unit,
          completion.status,
          deps.clock(),
        );
      } catch (err) {
        const e = toGraphmillError(err);
        if (e.retryable) throw e;
        await deps.failure.deadLetterEvent(raw, e);
        return { recorded: false };
      }
      if (result.summaryRevised) await reportRevisedSummary(deps, result.batch, result.summaryRevised);
      if (result.lateSuccess) {
        // Its own trigger, with its own idempotency key: the phase's trigger went out without this unit.
        const next = result.lateSuccess.nextPhase;
        log.notice('late success: triggering the next phase for this unit', {
          phase: completion.phase,
          next,
        });
        await deps.triggerPhase(
          result.batch,
          next,
          [completion.unit],
          `${completion.batchId}:${next}:${completion.unit}`,
        );
      }
      if (result.phaseCompleted === undefined) return { recorded: true };

      const batch = result.batch;
      const phase = result.phaseCompleted;
      log.notice('batch phase complete', { phase, ...phaseCounts(batch, phase) });
      if (result.nextPhase !== undefined) {
        // The batch store recorded this phase's failures in the next phase, in the same write.
        const states = batch.phaseStates[phase]?.units ?? {};
        const succeeded = batch.units.filter((u) => states[u] === 'succeeded');
        await deps.triggerPhase(batch, result.nextPhase, succeeded);
        return { recorded: true, phaseCompleted: phase, triggered: result.nextPhase };
      }
      // The last phase, or every remaining phase completed at once because every unit had failed.
      return { recorded: true, phaseCompleted: phase, summary: await finishBatch(deps, batch) };
    },
  };
}

/** The last phase is complete: write the summary and alert when any unit failed. */
async function finishBatch(deps: PhaseTransitionDeps, batch: Batch): Promise<BatchSummary> {
  const summary = summarizeBatch(batch, deps.clock() - batch.createdAt);
  const failedUnits = summary.failedUnits;
  await deps.batches.complete(batch.id, summary, deps.clock());
  deps.logger.notice('batch complete', {
    batchId: batch.id,
    ...summary,
    failedUnits: failedUnits.slice(0, 20),
  });
  if (failedUnits.length > 0) {
    await deps.alerter.send({
      severity: 'error',
      title: `Batch ${batch.id} finished with ${failedUnits.length} of ${batch.units.length} units failed`,
      functionName: deps.functionName,
      errorType: 'batch_units_failed',
      message: `Failed units: ${failedUnits.slice(0, 20).join(', ')}${failedUnits.length > 20 ? ', ...' : ''}`,
      batchId: batch.id,
      ...(batch.correlationId !== undefined ? { correlationId: batch.correlationId } : {}),
      dedupeKey: `batch-summary:${batch.id}`,
    });
  }
  return summary;
}

/** A completed batch's summary changed (a failed unit was replayed): say so where the first one was said. */
async function reportRevisedSummary(
  deps: PhaseTransitionDeps,
  batch: Batch,
  revision: NonNullable<UnitResult['summaryRevised']>,
): Promise<void> {
  const { previous, summary } = revision;
  deps.logger.notice('batch summary revised', {
    batchId: batch.id,
    ...summary,
    failedUnits: summary.failedUnits.slice(0, 20),
    previouslyFailed: previous.failed,
  });
  await deps.alerter.send({
    severity: 'warning',
    title:
      summary.failed === 0
        ? `Batch ${batch.id}: every unit has now succeeded (${previous.failed} had failed)`
        : `Batch ${batch.id} now has ${summary.failed} of ${summary.units} units failed (was ${previous.failed})`,
    functionName: deps.functionName,
    errorType: 'batch_summary_revised',
    message:
      summary.failed === 0
        ? 'The units reported failed in the batch summary have since succeeded (a replay); the summary is revised.'
        : `Failed units: ${summary.failedUnits.slice(0, 20).join(', ')}${summary.failedUnits.length > 20 ? ', ...' : ''}`,
    batchId: batch.id,
    ...(batch.correlationId !== undefined ? { correlationId: batch.correlationId } : {}),
    dedupeKey: `batch-summary:${batch.id}:${summary.failed}`,
  });
}

function phaseCounts(batch: Batch, phase: string): Record<string, number> {
  const s = batch.phaseStates[phase];
  return { expected: s?.expected ?? 0, succeeded: s?.succeeded ?? 0, failed: s?.failed ?? 0 };
}
