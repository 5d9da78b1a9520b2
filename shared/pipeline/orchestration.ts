/**
 * Event-driven orchestration, as pure application logic over the ports: ingest requests, phase
 * completions, batch submission, the batch watchdog and reconciliation. The event functions and the
 * CLI call these; the local bus and Pub/Sub deliver the same CloudEvents.
 *
 * Event handlers follow one rule: a retryable failure throws (the broker redelivers), a permanent one
 * is recorded (status, dead letter, alert) and the event is acknowledged. Every handler is idempotent.
 */
import type { Alerter } from '../ports/alerter';
import { summarizeBatch } from '../batches/transitions';
import type { Batch, BatchSummary, UnitResult } from '../batches/types';
import type { BatchStore } from '../ports/batch-store';
import { writeDeadLetter, type DeadLetterDeps } from '../dlq/replay';
import type { DeadLetterSchedule } from '../dlq/policy';
import type { DeadLetterOperation } from '../dlq/types';
import type { DeadLetterStore } from '../ports/dead-letter-store';
import { badRequest, notFound, toGraphmillError, type GraphmillError } from '../errors';
import { boundedList, describeList } from '../errors/problem';
import {
  IDEMPOTENCY_KEY_ATTRIBUTE,
  decodeIngestRequest,
  decodePhaseCompletionEvent,
  eventAgeMs,
  pubSubMessageMeta,
} from '../events/codec';
import type { IngestRequest, PhaseCompletionEvent, PubSubCloudEvent } from '../events/types';
import type { EventPublisher } from '../ports/event-publisher';
import type { Logger } from '../logging';
import type { Policy } from '../resilience';
import type { Clock } from '../ports/clock';
import { completionIdFor } from '../tracking/ids';
import { reportTracking, reportTrackingMany, type CompletionTracker } from '../tracking/tracker';
import type { CompletionRecord } from '../tracking/types';
import type { CompletionLedger } from '../ports/completion-ledger';
import { runDocumentGroup, type GroupOptions, type GroupResult } from './group';
import { runDocument, type DocumentOutcome, type PipelineDeps } from './process-document';

export interface OrchestrationSettings {
  readonly phases: readonly string[];
  readonly topics: { readonly ingestRequests: string; readonly phaseCompletions: string };
  readonly maxEventAgeMs: number;
  readonly batchDeadlineMs: number;
  readonly dlqSchedule?: DeadLetterSchedule;
}

export interface OrchestrationDeps {
  readonly pipeline: PipelineDeps;
  readonly batches: BatchStore;
  readonly tracker: CompletionTracker;
  readonly publisher: EventPublisher;
  readonly deadLetters: DeadLetterStore;
  readonly alerter: Alerter;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly functionName: string;
  readonly settings: OrchestrationSettings;
}

/** The topic that triggers a later phase of a batch (graphmill's own first phase is `ingest-requests`). */
export const phaseTopic = (phase: string): string => `phase-${phase}`;

/** Published on `phase-<name>` when a batch's earlier phase is complete. */
export interface PhaseTrigger {
  readonly batchId: string;
  readonly phase: string;
  /** Units that succeeded every earlier phase. */
  readonly units: readonly string[];
  readonly correlationId: string;
  readonly idempotencyKey: string;
  readonly triggeredAt: string;
}

const dlqDeps = (deps: OrchestrationDeps): DeadLetterDeps => ({
  store: deps.deadLetters,
  alerter: deps.alerter,
  clock: deps.clock,
  logger: deps.logger,
  functionName: deps.functionName,
  ...(deps.settings.dlqSchedule ? { schedule: deps.settings.dlqSchedule } : {}),
});

// ---------------------------------------------------------------------------------------------------
// synchronous runs (HTTP orchestrate, CLI)

/**
 * Runs one document and records the outcome as a completion (dual-written), for callers that answer
 * synchronously: the caller sees a failure as an error, so nothing is dead-lettered here.
 */
export async function runAndRecord(
  deps: OrchestrationDeps,
  request: Pick<IngestRequest, 'documentId' | 'action'> & { readonly correlationId?: string },
): Promise<DocumentOutcome> {
  const ingest: IngestRequest = { ...request, requestedAt: new Date(deps.clock()).toISOString() };
  const phase = firstPhase(deps);
  try {
    const outcome = await runDocument(deps.pipeline, {
      documentId: request.documentId,
      action: request.action,
    });
    if (outcome.status !== 'deleted') {
      await recordPhaseOutcome(deps, ingest, phase, 'succeeded', succeededFields(outcome));
    }
    return outcome;
  } catch (err) {
    const e = toGraphmillError(err);
    if (isFinalFailure(e)) await recordPhaseOutcome(deps, ingest, phase, 'failed', failedFields(e));
    throw e;
  }
}

/**
 * runAndRecord for many documents with group commit (`graphmill ingest`): the documents share status and
 * Neo4j transactions (see ./group.ts), and their completions are written to each ledger together. Every
 * document keeps the outcome, the completion record and the error that runAndRecord would give it.
 */
export async function runAndRecordGroup(
  deps: OrchestrationDeps,
  requests: readonly (Pick<IngestRequest, 'documentId' | 'action'> & { readonly correlationId?: string })[],
  options: GroupOptions,
): Promise<GroupResult[]> {
  const phase = firstPhase(deps);
  const results = await runDocumentGroup(
    deps.pipeline,
    requests.map((r) => ({ documentId: r.documentId, action: r.action })),
    options,
  );
  const records: CompletionRecord[] = [];
  results.forEach((result, i) => {
    const request = requests[i];
    if (!request) return;
    if (result.ok) {
      if (result.outcome.status !== 'deleted') {
        records.push(completionRecordFor(deps, request, phase, 'succeeded', succeededFields(result.outcome)));
      }
    } else if (isFinalFailure(result.error)) {
      records.push(completionRecordFor(deps, request, phase, 'failed', failedFields(result.error)));
    }
  });
  if (records.length > 0) {
    await reportTrackingMany(await deps.tracker.recordMany(records), records, {
      functionName: deps.functionName,
      logger: deps.logger,
      alerter: deps.alerter,
    });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------------
// ingest-requests

export async function handleIngestEvent(deps: OrchestrationDeps, event: PubSubCloudEvent): Promise<void> {
  const meta = pubSubMessageMeta(event);
  const log = deps.logger.child({ eventId: meta.messageId ?? event.id });
  let request: IngestRequest;
  try {
    request = decodeIngestRequest(event);
  } catch (err) {
    await deadLetterEvent(deps, event, deps.settings.topics.ingestRequests, toGraphmillError(err));
    return; // acknowledged: redelivering a malformed message cannot help
  }
  const docLog = log.child({
    documentId: request.documentId,
    ...(request.batchId !== undefined ? { batchId: request.batchId } : {}),
    ...(request.correlationId !== undefined ? { correlationId: request.correlationId } : {}),
  });
  const phase = request.phase ?? firstPhase(deps);
  const op: DeadLetterOperation = {
    kind: 'document',
    documentId: request.documentId,
    action: request.action,
    ...(request.batchId !== undefined ? { batchId: request.batchId } : {}),
    phase,
    ...(request.correlationId !== undefined ? { correlationId: request.correlationId } : {}),
  };

  const age = eventAgeMs(event, deps.clock());
  if (age !== undefined && age > deps.settings.maxEventAgeMs) {
    const e = badRequest(
      `Event is ${Math.round(age / 1000)} s old, past the ${deps.settings.maxEventAgeMs / 1000} s limit`,
    );
    docLog.warn('event too old; dead-lettered instead of retried', { ageMs: age });
    await failPermanently(deps, op, request, phase, e, 'dead_lettered');
    return;
  }

  try {
    const outcome = await runDocument(
      { ...deps.pipeline, logger: docLog },
      { documentId: request.documentId, action: request.action },
    );
    if (outcome.status === 'deleted') return;
    await recordPhaseOutcome(deps, request, phase, 'succeeded', succeededFields(outcome));
  } catch (err) {
    const e = toGraphmillError(err);
    if (e.retryable) {
      docLog.warn('ingest failed; Pub/Sub will redeliver', { code: e.code, error: e.message });
      throw e;
    }
    await failPermanently(deps, op, request, phase, e, 'failed');
  }
}

/**
 * Records a failure that will not be retried by redelivery: a dead letter (alerted when it needs a
 * person) and the unit's failed completion. The document is `failed` for a permanent error (the pipeline
 * recorded it) and `dead_lettered` when its retries ran out (an event too old to retry).
 */
async function failPermanently(
  deps: OrchestrationDeps,
  op: DeadLetterOperation,
  request: IngestRequest,
  phase: string,
  e: GraphmillError,
  status: 'failed' | 'dead_lettered',
): Promise<void> {
  if (status === 'dead_lettered') await markDeadLettered(deps, request.documentId, e);
  await writeDeadLetter(dlqDeps(deps), op, e);
  await recordPhaseOutcome(deps, request, phase, 'failed', failedFields(e));
}

/**
 * Moves a document to `dead_lettered` when no run holds it (the pipeline already did this for failures
 * inside a run; this covers events that never reached the pipeline, like expired ones).
 */
export async function markDeadLettered(
  deps: OrchestrationDeps,
  documentId: string,
  e: GraphmillError,
): Promise<void> {
  const status = deps.pipeline.status;
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
}

/** Completion record for the unit, dual-written; batch units also announce it on `phase-completions`. */
type OutcomeFields = {
  discriminator: string;
  chunkCount?: number;
  durationMs?: number;
  contentHash?: string;
  errorCode?: string;
};

function completionRecordFor(
  deps: OrchestrationDeps,
  request: Pick<IngestRequest, 'documentId' | 'batchId' | 'correlationId'>,
  phase: string,
  status: 'succeeded' | 'failed',
  extra: OutcomeFields,
): CompletionRecord {
  const { discriminator, ...fields } = extra;
  const completionId = completionIdFor({
    documentId: request.documentId,
    phase,
    batchId: request.batchId,
    status,
    discriminator,
  });
  return {
    completionId,
    documentId: request.documentId,
    ...(request.batchId !== undefined ? { batchId: request.batchId } : {}),
    phase,
    status,
    ...fields,
    functionName: deps.functionName,
    ...(request.correlationId !== undefined ? { correlationId: request.correlationId } : {}),
    occurredAt: deps.clock(),
  };
}

/** The phase a document's own ingestion records: the first of the configured ones. */
const firstPhase = (deps: OrchestrationDeps): string => deps.settings.phases[0] ?? 'ingest';

const failedFields = (e: GraphmillError): OutcomeFields => ({ discriminator: e.code, errorCode: e.code });

/**
 * A failure the direct paths (runAndRecord, the group runner) record as the unit's outcome: permanent, and
 * about a registered document. A retryable one is retried first; an unknown document has no unit to record.
 */
const isFinalFailure = (e: GraphmillError): boolean => !e.retryable && e.code !== 'not_found';

const succeededFields = (outcome: DocumentOutcome): OutcomeFields => ({
  discriminator: outcome.contentHash ?? 'none',
  chunkCount: outcome.chunkCount,
  durationMs: outcome.durationMs,
  ...(outcome.contentHash !== undefined ? { contentHash: outcome.contentHash } : {}),
});

async function recordPhaseOutcome(
  deps: OrchestrationDeps,
  request: IngestRequest,
  phase: string,
  status: 'succeeded' | 'failed',
  extra: OutcomeFields,
): Promise<void> {
  const record = completionRecordFor(deps, request, phase, status, extra);
  const result = await deps.tracker.record(record);
  await reportTracking(result, {
    functionName: deps.functionName,
    record,
    logger: deps.logger,
    alerter: deps.alerter,
  });
  if (request.batchId === undefined) return;
  const completionId = record.completionId;
  const event: PhaseCompletionEvent = {
    eventId: completionId,
    batchId: request.batchId,
    phase,
    unit: request.documentId,
    status,
    occurredAt: new Date(record.occurredAt).toISOString(),
    correlationId: request.correlationId ?? request.batchId,
  };
  // A failed publish throws: the ingest event is redelivered, the run finds the document unchanged, and
  // the same completion (same id) is announced again.
  await deps.publisher.publish(deps.settings.topics.phaseCompletions, event, {
    idempotencyKey: completionId,
    attributes: { batchId: request.batchId, phase },
  });
}

// ---------------------------------------------------------------------------------------------------
// phase-completions

export interface PhaseTransitionResult {
  readonly recorded: boolean;
  readonly phaseCompleted?: string;
  readonly triggered?: string;
  readonly summary?: BatchSummary;
}

export async function handlePhaseCompletion(
  deps: OrchestrationDeps,
  event: PubSubCloudEvent,
): Promise<PhaseTransitionResult> {
  let completion: PhaseCompletionEvent;
  try {
    completion = decodePhaseCompletionEvent(event);
  } catch (err) {
    await deadLetterEvent(deps, event, deps.settings.topics.phaseCompletions, toGraphmillError(err));
    return { recorded: false };
  }
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
    await deadLetterEvent(deps, event, deps.settings.topics.phaseCompletions, e);
    return { recorded: false };
  }
  if (result.summaryRevised) await reportRevisedSummary(deps, result.batch, result.summaryRevised);
  if (result.lateSuccess) {
    // Its own trigger, with its own idempotency key: the phase's trigger went out without this unit.
    const next = result.lateSuccess.nextPhase;
    log.notice('late success: triggering the next phase for this unit', { phase: completion.phase, next });
    await triggerPhase(
      deps,
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
    await triggerPhase(deps, batch, result.nextPhase, succeeded);
    return { recorded: true, phaseCompleted: phase, triggered: result.nextPhase };
  }
  // The last phase, or every remaining phase completed at once because every unit had failed.
  return { recorded: true, phaseCompleted: phase, summary: await finishBatch(deps, batch) };
}

async function triggerPhase(
  deps: OrchestrationDeps,
  batch: Batch,
  phase: string,
  units: readonly string[],
  idempotencyKey = `${batch.id}:${phase}`,
): Promise<void> {
  const trigger: PhaseTrigger = {
    batchId: batch.id,
    phase,
    units,
    correlationId: batch.correlationId ?? batch.id,
    idempotencyKey,
    triggeredAt: new Date(deps.clock()).toISOString(),
  };
  try {
    await deps.publisher.publish(phaseTopic(phase), trigger, {
      idempotencyKey: trigger.idempotencyKey,
      attributes: { batchId: batch.id, phase },
    });
    deps.logger.notice('next phase triggered', { batchId: batch.id, phase, units: units.length });
  } catch (err) {
    // The batch store already marked the phase as triggered (exactly once); the message itself is kept
    // in the dead letters and republished by replayDeadLetters with the same idempotency key.
    const e = toGraphmillError(err);
    await writeDeadLetter(
      dlqDeps(deps),
      {
        kind: 'event',
        topic: phaseTopic(phase),
        payload: JSON.stringify(trigger),
        reason: `phase trigger could not be published: ${e.code}`,
      },
      e,
    );
  }
}

/** The last phase is complete: write the summary and alert when any unit failed. */
async function finishBatch(deps: OrchestrationDeps, batch: Batch): Promise<BatchSummary> {
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
  deps: OrchestrationDeps,
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

/** An event that could not be decoded or applied: kept for manual review, alerted once. */
async function deadLetterEvent(
  deps: OrchestrationDeps,
  event: PubSubCloudEvent,
  topic: string,
  e: GraphmillError,
) {
  const data = event.data?.message?.data ?? '';
  const attributes = event.data?.message?.attributes ?? {};
  deps.logger.warn('event dead-lettered', {
    topic,
    code: e.code,
    error: e.message,
    idempotencyKey: attributes[IDEMPOTENCY_KEY_ATTRIBUTE],
  });
  await writeDeadLetter(dlqDeps(deps), { kind: 'event', topic, payload: data, reason: e.message }, e);
}

// ---------------------------------------------------------------------------------------------------
// dead-letter replay

/**
 * Re-drives a dead-lettered operation through the same pipeline: a document runs again (and its
 * completion is recorded and announced, as after an ingest event); an event is published again with
 * its idempotency key. Throws when it fails again, so the replay records the new attempt.
 */
export async function replayOperation(deps: OrchestrationDeps, op: DeadLetterOperation): Promise<void> {
  if (op.kind === 'event') {
    const parsed = parseEventPayload(op.payload);
    const key =
      typeof parsed === 'object' && parsed !== null && 'idempotencyKey' in parsed
        ? String(parsed.idempotencyKey)
        : undefined;
    await deps.publisher.publish(op.topic, parsed, { idempotencyKey: key ?? deadLetterKey(op) });
    return;
  }
  const request: IngestRequest = {
    documentId: op.documentId,
    action: op.action,
    ...(op.batchId !== undefined ? { batchId: op.batchId } : {}),
    ...(op.phase !== undefined ? { phase: op.phase } : {}),
    ...(op.correlationId !== undefined ? { correlationId: op.correlationId } : {}),
    requestedAt: new Date(deps.clock()).toISOString(),
  };
  const outcome = await runDocument(deps.pipeline, { documentId: op.documentId, action: op.action });
  if (outcome.status === 'deleted') return;
  const phase = op.phase ?? firstPhase(deps);
  await recordPhaseOutcome(deps, request, phase, 'succeeded', succeededFields(outcome));
}

/** Payloads are JSON (phase triggers) or the base64 data of a Pub/Sub message. */
function parseEventPayload(payload: string): unknown {
  try {
    return JSON.parse(payload) as unknown;
  } catch {
    try {
      return JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as unknown;
    } catch {
      throw badRequest('The dead-lettered event is not JSON; it cannot be republished');
    }
  }
}

const deadLetterKey = (op: DeadLetterOperation): string =>
  `replay:${op.kind === 'event' ? op.topic : op.documentId}`;

// ---------------------------------------------------------------------------------------------------
// batches

export interface SubmitBatchRequest {
  readonly batchId: string;
  readonly documentIds: readonly string[];
  /** Epoch ms; default now + the configured batch deadline. */
  readonly deadline?: number;
  readonly correlationId?: string;
}

/** Records the batch (units and deadline), then publishes one ingest request per document. */
export async function submitBatch(deps: OrchestrationDeps, request: SubmitBatchRequest): Promise<Batch> {
  const units = [...new Set(request.documentIds)];
  if (units.length === 0) throw badRequest('A batch needs at least one document');
  const missing: string[] = [];
  for (const id of units) if (!(await deps.pipeline.status.get(id))) missing.push(id);
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
      phases: deps.settings.phases,
      deadline: request.deadline ?? now + deps.settings.batchDeadlineMs,
      correlationId,
    },
    now,
  );
  const phase = firstPhase(deps);
  for (const documentId of units) {
    const message: IngestRequest = {
      documentId,
      action: 'process_document',
      batchId: batch.id,
      phase,
      correlationId,
      requestedAt: new Date(now).toISOString(),
    };
    await deps.publisher.publish(deps.settings.topics.ingestRequests, message, {
      idempotencyKey: `${batch.id}:${documentId}:${phase}`,
      attributes: { batchId: batch.id },
    });
  }
  deps.logger.notice('batch submitted', {
    batchId: batch.id,
    units: units.length,
    deadline: new Date(batch.deadline).toISOString(),
  });
  return batch;
}

// ---------------------------------------------------------------------------------------------------
// watchdog

/** Alerts once per batch past its deadline and marks it; returns the batches it alerted on. */
export async function runWatchdog(deps: OrchestrationDeps): Promise<string[]> {
  const now = deps.clock();
  const alerted: string[] = [];
  for (const batch of await deps.batches.listOverdue(now)) {
    if (!(await deps.batches.markOverdueAlerted(batch.id, now))) continue;
    alerted.push(batch.id);
    const open = batch.phases.filter((p) => batch.phaseStates[p]?.triggeredAt === undefined);
    const retriggered = await retriggerStalledPhases(deps, batch);
    deps.logger.error('batch missed its deadline', { batchId: batch.id, openPhases: open, retriggered });
    await deps.alerter.send({
      severity: 'error',
      title: `Batch ${batch.id} missed its deadline`,
      functionName: deps.functionName,
      errorType: 'batch_overdue',
      message:
        `Deadline ${new Date(batch.deadline).toISOString()} passed; phases not complete: ${open.join(', ')}` +
        (retriggered.length > 0
          ? `; no unit had reached ${retriggered.join(', ')}, so its trigger was published again`
          : ''),
      batchId: batch.id,
      ...(batch.correlationId !== undefined ? { correlationId: batch.correlationId } : {}),
      dedupeKey: `batch-overdue:${batch.id}`,
    });
  }
  return alerted;
}

/**
 * A phase that was triggered (the batch store says so) but whose next phase has recorded nothing beyond
 * the failures carried into it: its trigger may never have been published (a crash between the store's
 * commit and the publish). Publishing it again with the same idempotency key is safe: a consumer that
 * handled it drops the copy.
 */
async function retriggerStalledPhases(deps: OrchestrationDeps, batch: Batch): Promise<string[]> {
  const out: string[] = [];
  for (const [i, phase] of batch.phases.entries()) {
    const next = batch.phases[i + 1];
    const state = batch.phaseStates[phase];
    const nextState = next !== undefined ? batch.phaseStates[next] : undefined;
    if (next === undefined || !state || state.triggeredAt === undefined || !nextState) continue;
    const succeeded = batch.units.filter((u) => state.units[u] === 'succeeded');
    const progressed = succeeded.some((u) => nextState.units[u] !== undefined);
    if (succeeded.length === 0 || progressed) continue;
    await triggerPhase(deps, batch, next, succeeded);
    out.push(next);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// reconciliation

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
