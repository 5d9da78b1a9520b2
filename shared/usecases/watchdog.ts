/** The batch watchdog: one alert per batch past its deadline, and a republished trigger where one stalled. */
import type { Batch } from '../batches/types';
import type { Logger } from '../logging';
import type { Alerter } from '../ports/alerter';
import type { BatchStore } from '../ports/batch-store';
import type { Clock } from '../ports/clock';
import type { TriggerPhase } from './phase-trigger';

export interface WatchdogDeps {
  readonly batches: BatchStore;
  readonly triggerPhase: TriggerPhase;
  readonly alerter: Alerter;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly functionName: string;
}

export interface Watchdog {
  /** Alerts once per batch past its deadline and marks it; returns the batches it alerted on. */
  run(options?: { readonly logger?: Logger }): Promise<string[]>;
}

export function makeWatchdog(deps: WatchdogDeps): Watchdog {
  return {
    async run(options = {}) {
      const logger = options.logger ?? deps.logger;
      const now = deps.clock();
      const alerted: string[] = [];
      for (const batch of await deps.batches.listOverdue(now)) {
        if (!(await deps.batches.markOverdueAlerted(batch.id, now))) continue;
        alerted.push(batch.id);
        const open = batch.phases.filter((p) => batch.phaseStates[p]?.triggeredAt === undefined);
        const retriggered = await retriggerStalledPhases(deps, batch, logger);
        logger.error('batch missed its deadline', { batchId: batch.id, openPhases: open, retriggered });
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
    },
  };
}

/**
 * A phase that was triggered (the batch store says so) but whose next phase has recorded nothing beyond
 * the failures carried into it: its trigger may never have been published (a crash between the store's
 * commit and the publish). Publishing it again with the same idempotency key is safe: a consumer that
 * handled it drops the copy.
 */
async function retriggerStalledPhases(deps: WatchdogDeps, batch: Batch, logger: Logger): Promise<string[]> {
  const out: string[] = [];
  for (const [i, phase] of batch.phases.entries()) {
    const next = batch.phases[i + 1];
    const state = batch.phaseStates[phase];
    const nextState = next !== undefined ? batch.phaseStates[next] : undefined;
    if (next === undefined || !state || state.triggeredAt === undefined || !nextState) continue;
    const succeeded = batch.units.filter((u) => state.units[u] === 'succeeded');
    const progressed = succeeded.some((u) => nextState.units[u] !== undefined);
    if (succeeded.length === 0 || progressed) continue;
    await deps.triggerPhase(batch, next, succeeded, undefined, logger);
    out.push(next);
  }
  return out;
}
