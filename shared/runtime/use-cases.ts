/**
 * Wires the use cases over the built adapters, as a named function sees them: its name goes into logs,
 * alerts, dead letters and completion records. Each use case gets only the deps it uses.
 */
import type { LocalEventBus } from '../adapters/local-bus/bus';
import type { Neo4jAccess } from '../adapters/neo4j/access';
import type { Config } from '../config';
import type { DeadLetterSchedule } from '../dlq/policy';
import type { DeadLetterDeps } from '../dlq/replay';
import type { GraphmillError } from '../errors';
import type { IngestRequest } from '../events/types';
import type { Logger } from '../logging';
import type { PipelineDeps } from '../pipeline';
import type { BatchStore } from '../ports/batch-store';
import type { DeadLetterStore } from '../ports/dead-letter-store';
import type { EventPublisher } from '../ports/event-publisher';
import type { ResilientPolicy } from '../resilience';
import type { CompletionTracker } from '../tracking/tracker';
import type { UseCases } from '../usecases';
import { makeBatches } from '../usecases/batches';
import { makeCompletions } from '../usecases/completions';
import { makeDocuments } from '../usecases/documents';
import { makeHealth, type HealthDeps } from '../usecases/health';
import { makeIngest } from '../usecases/ingest';
import { makePermanentFailure } from '../usecases/permanent-failure';
import { makePhaseTransition } from '../usecases/phase-transition';
import { makePhaseTrigger } from '../usecases/phase-trigger';
import { makeReconcile } from '../usecases/reconcile';
import { makeReplay } from '../usecases/replay';
import { makeWatchdog } from '../usecases/watchdog';
import type { ManagedAlerter } from './alerter';
import type { Ledgers } from './stores';

export interface Adapters {
  /** The document pipeline's ports (status with bounded retries, sources, graph) and settings. */
  readonly pipeline: PipelineDeps;
  readonly batches: BatchStore;
  readonly deadLetters: DeadLetterStore;
  readonly ledgers: Ledgers;
  readonly policies: { readonly firestore: ResilientPolicy; readonly bigquery: ResilientPolicy };
  readonly tracker: CompletionTracker;
  /** With bounded publish retries. */
  readonly publisher: EventPublisher;
  /** The in-process bus, in local event mode. */
  readonly bus: LocalEventBus | undefined;
  readonly alerter: ManagedAlerter;
  readonly neo4j: Neo4jAccess;
}

export interface UseCaseSettings {
  readonly config: Config;
  readonly logger: Logger;
  readonly dlqSchedule: DeadLetterSchedule;
  readonly health: HealthDeps;
}

export interface UseCaseWiring {
  forFunction(functionName: string): UseCases;
  /** The local bus's dead-letter path for an ingest request, through the same permanent-failure rule. */
  outOfDeliveries(request: IngestRequest, e: GraphmillError): Promise<void>;
}

export function makeUseCases(a: Adapters, s: UseCaseSettings): UseCaseWiring {
  const { config } = s;
  const { clock } = a.pipeline;
  const health = makeHealth(s.health);
  const deadLetterDeps = (functionName: string, logger: Logger): DeadLetterDeps => ({
    store: a.deadLetters,
    alerter: a.alerter,
    clock,
    logger,
    functionName,
    schedule: s.dlqSchedule,
  });
  const failureFor = (functionName: string, logger: Logger) => {
    const completions = makeCompletions({
      tracker: a.tracker,
      publisher: a.publisher,
      alerter: a.alerter,
      clock,
      logger,
      functionName,
      phaseCompletionsTopic: config.topics.phaseCompletions,
    });
    const failure = makePermanentFailure({
      status: a.pipeline.status,
      deadLetters: deadLetterDeps(functionName, logger),
      completions,
      alerter: a.alerter,
      clock,
      logger,
      functionName,
    });
    return { completions, failure };
  };

  const cache = new Map<string, UseCases>();
  const build = (functionName: string): UseCases => {
    const logger = s.logger.child({ function: functionName });
    const { completions, failure } = failureFor(functionName, logger);
    const triggerPhase = makePhaseTrigger({
      publisher: a.publisher,
      deadLetters: deadLetterDeps(functionName, logger),
      clock,
      logger,
    });
    return {
      ingest: makeIngest({
        pipeline: a.pipeline,
        completions,
        failure,
        clock,
        logger,
        phases: config.phases,
        ingestRequestsTopic: config.topics.ingestRequests,
        maxEventAgeMs: config.maxEventAgeMs,
        maxGroupChunks: config.writeBatchSize,
      }),
      phaseTransition: makePhaseTransition({
        tracker: a.tracker,
        batches: a.batches,
        triggerPhase,
        failure,
        alerter: a.alerter,
        clock,
        logger,
        functionName,
        phaseCompletionsTopic: config.topics.phaseCompletions,
      }),
      batches: makeBatches({
        status: a.pipeline.status,
        batches: a.batches,
        publisher: a.publisher,
        clock,
        logger,
        phases: config.phases,
        ingestRequestsTopic: config.topics.ingestRequests,
        batchDeadlineMs: config.batchDeadlineMs,
      }),
      replay: makeReplay({
        pipeline: a.pipeline,
        completions,
        publisher: a.publisher,
        deadLetters: a.deadLetters,
        alerter: a.alerter,
        clock,
        logger,
        functionName,
        phases: config.phases,
        schedule: s.dlqSchedule,
      }),
      watchdog: makeWatchdog({
        batches: a.batches,
        triggerPhase,
        alerter: a.alerter,
        clock,
        logger,
        functionName,
      }),
      reconcile: makeReconcile({
        firestore: a.ledgers.firestore,
        bigquery: a.ledgers.bigquery,
        firestorePolicy: a.policies.firestore,
        bigqueryPolicy: a.policies.bigquery,
        clock,
        logger,
      }),
      health,
      documents: makeDocuments({ status: a.pipeline.status, graph: a.pipeline.graph, clock, logger }),
    };
  };
  // The bus's dead-letter path logs under the root logger, as the bus itself does.
  const busFailure = failureFor('ingestEvent', s.logger).failure;
  return {
    forFunction(functionName) {
      let useCases = cache.get(functionName);
      if (!useCases) cache.set(functionName, (useCases = build(functionName)));
      return useCases;
    },
    outOfDeliveries: (request, e) => busFailure.outOfDeliveries(request, e),
  };
}
