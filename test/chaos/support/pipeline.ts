/** A graphmill runtime in local mode for the chaos suites, and the helpers every batch run needs. */
import type { Env } from '../../../shared/config';
import { parseConfig } from '../../../shared/config';
import type { Logger } from '../../../shared/logging';
import {
  compose,
  type Composition as Runtime,
  type CompositionOverrides as RuntimeOverrides,
} from '../../../shared/runtime';
import type { DocumentRecord } from '../../../shared/status/types';
import type { ChaosDocument } from './corpus';

/** Chunking small enough that the large documents of the corpus take several UNWIND batches. */
export const CHUNKING = { CHUNK_SIZE: '300', CHUNK_OVERLAP: '40', WRITE_BATCH_SIZE: '20' } as const;
export const CHUNK_SIZE = 300;

export interface ChaosClock {
  readonly now: () => number;
  /** Moves graphmill's clock forward (dead-letter schedules, leases); real time keeps running under it. */
  advance(ms: number): void;
}

export function chaosClock(): ChaosClock {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => void (offset += ms) };
}

export function localEnv(options: {
  stateDir: string;
  neo4j: { uri: string; username: string; password: string };
  extra?: Env;
}): Env {
  return {
    GRAPHMILL_MODE: 'local',
    GRAPHMILL_STATE_DIR: options.stateDir,
    STATUS_STORE: 'sqlite',
    COMPLETION_LEDGERS: 'sqlite',
    EVENT_BUS: 'local',
    HTTPS_SOURCES: 'off',
    NEO4J_URI: options.neo4j.uri,
    NEO4J_USERNAME: options.neo4j.username,
    NEO4J_PASSWORD: options.neo4j.password,
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    ...CHUNKING,
    ...(options.extra ?? {}),
  };
}

export function chaosRuntime(env: Env, logger: Logger, overrides: RuntimeOverrides): Runtime {
  return compose(parseConfig(env), logger, overrides);
}

export async function registerCorpus(runtime: Runtime, docs: readonly ChaosDocument[], now: number) {
  for (const d of docs) {
    await runtime.adapters.pipeline.status.register(
      { id: d.id, source: 'inline:', title: d.title, content: d.text },
      now,
    );
  }
}

/** Resolves true when the bus is idle, false when `ms` passed first. */
export async function drainWithin(runtime: Runtime, ms: number): Promise<boolean> {
  const bus = runtime.adapters.bus;
  if (!bus) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([bus.drain().then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function submit(runtime: Runtime, batchId: string, docs: readonly ChaosDocument[]) {
  return runtime.forFunction('chaos-submit').batches.submit({
    batchId,
    documentIds: docs.map((d) => d.id),
  });
}

export interface StatusCensus {
  completed: number;
  deadLettered: number;
  /** failed with a permanent error (recorded, dead-lettered for manual review). */
  failedPermanent: number;
  /** pending, processing, or failed with a retryable error: nothing will move them on its own. */
  stuck: number;
  stuckIds: string[];
  /** dead_lettered or failed documents without an error code. */
  withoutReason: number;
  /** The errors of the permanent failures (id, code, message), a few. */
  permanentSamples: string[];
  byCode: Record<string, number>;
}

export function census(records: readonly DocumentRecord[], ids: readonly string[]): StatusCensus {
  const byId = new Map(records.map((r) => [r.id, r]));
  const c: StatusCensus = {
    completed: 0,
    deadLettered: 0,
    failedPermanent: 0,
    stuck: 0,
    stuckIds: [],
    withoutReason: 0,
    byCode: {},
    permanentSamples: [],
  };
  for (const id of ids) {
    const r = byId.get(id);
    if (r?.status === 'completed') {
      c.completed++;
      continue;
    }
    if (r && (r.status === 'dead_lettered' || r.status === 'failed') && r.error) {
      c.byCode[r.error.code] = (c.byCode[r.error.code] ?? 0) + 1;
    }
    if (r?.status === 'dead_lettered') {
      c.deadLettered++;
      if (!r.error?.code) c.withoutReason++;
    } else if (r?.status === 'failed' && r.error && !r.error.retryable) {
      c.failedPermanent++;
      if (c.permanentSamples.length < 5)
        c.permanentSamples.push(
          `${id}: ${r.error.code} at ${r.error.stage}: ${r.error.message.slice(0, 300)}`,
        );
    } else {
      c.stuck++;
      c.stuckIds.push(`${id}:${r?.status ?? 'missing'}${r?.error ? `:${r.error.code}` : ''}`);
    }
  }
  return c;
}

export interface ReplayFigures {
  rounds: number;
  claimed: number;
  succeeded: number;
  failed: number;
  manualReviewReplayed: number;
  manualReviewSucceeded: number;
}

/**
 * Replays the dead letters the way replayDeadLetters does (replayDue through replayOperation), with
 * graphmill's clock moved past their schedules, until none is due; then the entries waiting for manual
 * review, once each, the way an operator does (`graphmill dlq replay ID`). Bounded in rounds.
 */
export async function replayAll(
  runtime: Runtime,
  clock: ChaosClock,
  logger: Logger,
  maxRounds = 6,
  /** Epoch ms (real time) after which no new round starts and no wait goes on. */
  deadline = Date.now() + 240_000,
): Promise<ReplayFigures> {
  const left = () => Math.max(1000, deadline - Date.now());
  // The dead letters on the moved clock, logged to the suite's logger; the operations replayed as the
  // replayDeadLetters function replays them.
  const { replay } = runtime.forFunction('replayDeadLetters');
  const options = { clock: clock.now, logger };
  const f: ReplayFigures = {
    rounds: 0,
    claimed: 0,
    succeeded: 0,
    failed: 0,
    manualReviewReplayed: 0,
    manualReviewSucceeded: 0,
  };
  for (let round = 0; round < maxRounds && Date.now() < deadline; round++) {
    // Past any schedule (the exponential one caps at 6 h) and any lease (FUNCTION_TIMEOUT + margin).
    clock.advance(7 * 3_600_000);
    const summary = await replay.replayDue({ ...options, limit: 10_000 });
    await drainWithin(runtime, left());
    f.rounds++;
    f.claimed += summary.claimed;
    f.succeeded += summary.succeeded;
    f.failed += summary.failed;
    if (summary.claimed === 0) break;
  }
  for (const entry of await runtime.adapters.deadLetters.list({ status: 'manual_review' })) {
    if (Date.now() >= deadline) break;
    f.manualReviewReplayed++;
    if ((await replay.replayOne(entry.id, options)) === 'succeeded') f.manualReviewSucceeded++;
  }
  await drainWithin(runtime, left());
  return f;
}

/** Closes the runtime, waiting at most `ms` (a handler that hangs must not hold the suite); true if it closed. */
export async function closeWithin(runtime: Runtime, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      runtime.close().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
