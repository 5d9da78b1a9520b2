/**
 * Dead letters: listing, resolving, and re-driving them through the same pipeline. A document runs again
 * (its completion is recorded and announced, as after an ingest event); an event is published again with
 * its idempotency key.
 */
import { markResolved, type DeadLetterSchedule } from '../dlq/policy';
import { replayDue, replayOne, type ReplayDeps, type ReplaySummary } from '../dlq/replay';
import type { DeadLetter, DeadLetterOperation, DeadLetterStatus } from '../dlq/types';
import { badRequest, notFound } from '../errors';
import type { IngestRequest } from '../events/types';
import type { Logger } from '../logging';
import { runDocument, type PipelineDeps } from '../pipeline/process-document';
import type { Alerter } from '../ports/alerter';
import type { Clock } from '../ports/clock';
import type { DeadLetterStore } from '../ports/dead-letter-store';
import type { EventPublisher } from '../ports/event-publisher';
import { firstPhase, succeededFields, type Completions } from './completions';

export interface ReplayUseCaseDeps {
  readonly pipeline: PipelineDeps;
  readonly completions: Completions;
  readonly publisher: EventPublisher;
  readonly deadLetters: DeadLetterStore;
  readonly alerter: Alerter;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly functionName: string;
  readonly phases: readonly string[];
  readonly schedule?: DeadLetterSchedule;
}

export interface ReplayOptions {
  readonly logger?: Logger;
  /** The dead letters' own clock (tests move it past the schedules). */
  readonly clock?: Clock;
  readonly limit?: number;
}

export interface Replay {
  /** Throws when the operation fails again, so the replay records the new attempt. */
  replayOperation(op: DeadLetterOperation, options?: { readonly logger?: Logger }): Promise<void>;
  replayDue(options?: ReplayOptions): Promise<ReplaySummary>;
  replayOne(id: string, options?: ReplayOptions): ReturnType<typeof replayOne>;
  list(filter?: { readonly status?: DeadLetterStatus }): Promise<DeadLetter[]>;
  get(id: string): Promise<DeadLetter | undefined>;
  /** Marks an entry resolved by hand (it will not be replayed). */
  resolve(id: string, note: string): Promise<void>;
}

export function makeReplay(deps: ReplayUseCaseDeps): Replay {
  const replayOperation: Replay['replayOperation'] = async (op, options = {}) => {
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
    const phase = op.phase ?? firstPhase(deps.phases);
    await deps.completions.record(request, phase, 'succeeded', succeededFields(outcome), options.logger);
  };
  const replayDeps = (options: ReplayOptions = {}): ReplayDeps => ({
    store: deps.deadLetters,
    alerter: deps.alerter,
    clock: options.clock ?? deps.clock,
    logger: options.logger ?? deps.logger,
    functionName: deps.functionName,
    ...(deps.schedule ? { schedule: deps.schedule } : {}),
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    run: (op) => replayOperation(op, options.logger ? { logger: options.logger } : {}),
  });
  return {
    replayOperation,
    replayDue: (options) => replayDue(replayDeps(options)),
    replayOne: (id, options) => replayOne(replayDeps(options), id),
    list: (filter = {}) => deps.deadLetters.list(filter),
    get: (id) => deps.deadLetters.get(id),
    async resolve(id, note) {
      const d = await deps.deadLetters.get(id);
      if (!d) throw notFound(`No dead letter ${id}`);
      await deps.deadLetters.put(markResolved(d, deps.clock(), note));
    },
  };
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
