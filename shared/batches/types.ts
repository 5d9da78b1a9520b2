/**
 * The BatchStore port: a batch declares its units (document ids) and its phase chain when submitted;
 * each unit's completion of a phase is recorded, and when succeeded + failed == expected the store
 * reports, exactly once, that the next phase is due (the trigger is guarded by the same transaction).
 */

export const BATCH_STATUSES = ['open', 'completed'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

export type UnitOutcome = 'succeeded' | 'failed';

export interface PhaseState {
  readonly phase: string;
  readonly expected: number;
  /** unit -> outcome; a later outcome for the same unit replaces the earlier one. */
  readonly units: Readonly<Record<string, UnitOutcome>>;
  readonly succeeded: number;
  readonly failed: number;
  /** Epoch ms when the phase completed and the next phase (or the batch summary) was triggered. */
  readonly triggeredAt?: number;
}

export interface Batch {
  readonly id: string;
  readonly units: readonly string[];
  /** The phase chain, in order; the last phase's completion completes the batch. */
  readonly phases: readonly string[];
  readonly status: BatchStatus;
  /** Epoch ms. */
  readonly deadline: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly correlationId?: string;
  readonly phaseStates: Readonly<Record<string, PhaseState>>;
  readonly completedAt?: number;
  /** Set by the watchdog the first (and only) time it alerts on this batch. */
  readonly overdueAlertedAt?: number;
  readonly summary?: BatchSummary;
  /** Epoch ms of the last revision of `summary`: a unit's outcome changed after the batch completed. */
  readonly summaryRevisedAt?: number;
}

export interface BatchSummary {
  readonly units: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly failedUnits: readonly string[];
  readonly durationMs: number;
}

export interface NewBatch {
  readonly id: string;
  readonly units: readonly string[];
  readonly phases: readonly string[];
  readonly deadline: number;
  readonly correlationId?: string;
}

export interface UnitResult {
  readonly batch: Batch;
  /** The phase this call completed, when it did (exactly one call per phase sees this). */
  readonly phaseCompleted?: string;
  /** The phase to trigger next; undefined when the completed phase was the last one. */
  readonly nextPhase?: string;
  /**
   * Set when the batch had completed and this outcome changed its summary (a failed unit replayed with
   * success, say): the summary is revised in the same write.
   */
  readonly summaryRevised?: { readonly previous: BatchSummary; readonly summary: BatchSummary };
  /**
   * Set when this call recorded a success for a phase that had already completed (a replayed unit): the
   * unit missed that phase's trigger, and `nextPhase` must be triggered for it alone.
   */
  readonly lateSuccess?: { readonly nextPhase: string };
}
