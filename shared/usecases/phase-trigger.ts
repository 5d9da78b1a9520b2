/** Publishing a batch phase's trigger, shared by the phase transition and the watchdog. */
import type { Batch } from '../batches/types';
import { writeDeadLetter, type DeadLetterDeps } from '../dlq/replay';
import { toGraphmillError } from '../errors';
import type { Logger } from '../logging';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';

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

export interface PhaseTriggerDeps {
  readonly publisher: EventPublisher;
  readonly deadLetters: DeadLetterDeps;
  readonly clock: Clock;
  readonly logger: Logger;
}

export type TriggerPhase = (
  batch: Batch,
  phase: string,
  units: readonly string[],
  idempotencyKey?: string,
  logger?: Logger,
) => Promise<void>;

export function makePhaseTrigger(deps: PhaseTriggerDeps): TriggerPhase {
  return async (batch, phase, units, idempotencyKey = `${batch.id}:${phase}`, logger = deps.logger) => {
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
      logger.notice('next phase triggered', { batchId: batch.id, phase, units: units.length });
    } catch (err) {
      // The batch store already marked the phase as triggered (exactly once); the message itself is kept
      // in the dead letters and republished by replayDeadLetters with the same idempotency key.
      const e = toGraphmillError(err);
      await writeDeadLetter(
        { ...deps.deadLetters, logger },
        {
          kind: 'event',
          topic: phaseTopic(phase),
          payload: JSON.stringify(trigger),
          reason: `phase trigger could not be published: ${e.code}`,
        },
        e,
      );
    }
  };
}
