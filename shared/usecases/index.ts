/** The use cases the entrypoints call; the composition root (shared/runtime) builds them ready to use. */
import type { Batches } from './batches';
import type { Documents } from './documents';
import type { Health } from './health';
import type { Ingest } from './ingest';
import type { PhaseTransition } from './phase-transition';
import type { Reconcile } from './reconcile';
import type { Replay } from './replay';
import type { Watchdog } from './watchdog';

export interface UseCases {
  readonly ingest: Ingest;
  readonly phaseTransition: PhaseTransition;
  readonly batches: Batches;
  readonly replay: Replay;
  readonly watchdog: Watchdog;
  readonly reconcile: Reconcile;
  readonly health: Health;
  readonly documents: Documents;
}

export type { Batches, SubmitBatchRequest } from './batches';
export type { Documents } from './documents';
export type { Health } from './health';
export type { Ingest, RunRequest } from './ingest';
export type { PhaseTransition, PhaseTransitionResult } from './phase-transition';
export { phaseTopic, type PhaseTrigger } from './phase-trigger';
export type { Reconcile, ReconcileReport } from './reconcile';
export type { Replay } from './replay';
export type { Watchdog } from './watchdog';
