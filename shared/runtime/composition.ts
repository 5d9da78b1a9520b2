/**
 * The composition root: the one place that builds adapters from the configuration (one small factory per
 * port, ./stores.ts, ./adapters.ts, ./alerter.ts) and wires them into ready use cases (./use-cases.ts).
 *
 * - local mode (the embedded default): SQLite state under the state directory (status, batches, dead
 *   letters, the orchestration ledger; the analytics ledger in a second database file), secrets from the
 *   environment, an in-process event bus that delivers to the same use cases, alerts to the log or a
 *   Slack webhook, inline and file:// sources, https:// and gs:// through the guarded fetch;
 * - gcp mode: Firestore, BigQuery, Pub/Sub, Secret Manager, Cloud Storage and Slack.
 * Each port can be switched on its own (STATUS_STORE, COMPLETION_LEDGERS, EVENT_BUS, SECRETS_BACKEND).
 */
import { makeNeo4jGraphWriter } from '../adapters/neo4j/graph-writer';
import type { Config } from '../config';
import { DEFAULT_SCHEDULE } from '../dlq/policy';
import { makeSourceRouter } from '../documents';
import { toGraphmillError } from '../errors';
import { decodeIngestRequest } from '../events/codec';
import { decodeIngestDelivery, decodePhaseCompletionDelivery } from '../events/deliveries';
import type { Logger } from '../logging';
import type { PipelineDeps } from '../pipeline';
import type { Clock, Sleep } from '../ports/clock';
import type { CompletionLedger } from '../ports/completion-ledger';
import type { DocumentSource } from '../ports/document-source';
import type { EventPublisher } from '../ports/event-publisher';
import type { GraphWriter } from '../ports/graph-writer';
import type { SecretStore } from '../ports/secret-store';
import { RESILIENCE_PRESETS, makeResilientPolicy, realSleep, systemClock, systemRandom } from '../resilience';
import { withRetries } from '../status/retrying';
import { makeCompletionTracker } from '../tracking/tracker';
import type { UseCases } from '../usecases';
import { makeNeo4j, makePublishing, makeSecrets, makeSources, type Resilience } from './adapters';
import { makeAlerter, type ManagedAlerter } from './alerter';
import { makeHealthChecks } from './health-checks';
import { makeBackends, makeBatchStore, makeDeadLetterStore, makeLedgers, makeStatusStore } from './stores';
import { makeUseCases, type Adapters } from './use-cases';

export interface Composition extends UseCases {
  /** The same use cases as another function sees them (its name in logs, alerts and completions). */
  forFunction(functionName: string): UseCases;
  /** Resolves when the in-process bus has delivered everything (at once with Pub/Sub). */
  drain(): Promise<void>;
  /** Drains the bus, then closes the driver, the state databases, the alerter and the publisher. */
  close(): Promise<void>;
  /** The built adapters, for tests and benchmarks to seed and inspect; entrypoints use the use cases. */
  readonly adapters: Adapters;
}

export interface CompositionOverrides {
  /** The function (or `cli`) this composition serves, named in alerts it raises itself. */
  readonly functionName?: string;
  /** Where secrets are read (default: the configured backend); cached either way. */
  readonly secrets?: SecretStore;
  readonly clock?: Clock;
  readonly sleep?: Sleep;
  /** Local bus options for tests (duplicate / reorder deliveries). */
  readonly bus?: {
    readonly duplicate?: boolean;
    readonly reorder?: boolean;
    readonly maxDeliveryAttempts?: number;
  };
  readonly publisher?: EventPublisher;
  readonly alerter?: ManagedAlerter;
  readonly ledgers?: { readonly firestore: CompletionLedger; readonly bigquery: CompletionLedger };
  readonly sources?: readonly DocumentSource[];
  /** Replaces the Neo4j graph writer (unit tests of the orchestration). */
  readonly graph?: GraphWriter;
}

export function compose(config: Config, logger: Logger, overrides: CompositionOverrides = {}): Composition {
  const clock = overrides.clock ?? systemClock;
  const sleep = overrides.sleep ?? realSleep;
  const closers: (() => Promise<void>)[] = [];
  const resilience: Resilience = { clock, sleep, random: systemRandom, logger };
  const policies = {
    firestore: makeResilientPolicy('firestore', RESILIENCE_PRESETS.firestore, resilience),
    bigquery: makeResilientPolicy('bigquery', RESILIENCE_PRESETS.bigquery, resilience),
  };

  const backends = makeBackends(config, closers);
  const rawStatus = makeStatusStore(config, backends);
  const batches = makeBatchStore(config, backends);
  const deadLetters = makeDeadLetterStore(config, backends);
  const ledgers = overrides.ledgers ?? makeLedgers(config, backends, closers, clock);
  const tracker = makeCompletionTracker({
    firestore: ledgers.firestore,
    bigquery: ledgers.bigquery,
    firestorePolicy: policies.firestore,
    bigqueryPolicy: policies.bigquery,
    logger,
  });

  const secrets = makeSecrets(config, resilience, overrides.secrets);
  const alerter =
    overrides.alerter ??
    makeAlerter({
      logger,
      clock,
      sleep,
      dedupeWindowMs: config.alertDedupMs,
      ...(secrets.slackWebhook ? { webhookUrl: secrets.slackWebhook } : {}),
    });
  closers.push(() => alerter.flush());

  const neo4j = makeNeo4j(config, resilience, secrets, alerter, overrides.functionName ?? 'graphmill');
  closers.unshift(() => neo4j.close());
  const graph = overrides.graph ?? makeNeo4jGraphWriter(neo4j, { batchSize: config.writeBatchSize, clock });

  const pipeline: PipelineDeps = {
    // Bounded retries around every state call (Firestore's preset: 5 attempts, 10 s; behind its breaker).
    status: withRetries(rawStatus, policies.firestore),
    source: makeSourceRouter(makeSources(config, overrides.sources ?? [], clock)),
    graph,
    clock,
    logger,
    settings: {
      ...config.chunking,
      leaseMs: config.leaseMs,
      maxDocumentBytes: config.maxDocumentBytes,
      maxSameWriteFailures: config.maxSameWriteFailures,
    },
  };

  const { publisher, raw, bus } = makePublishing(config, resilience, {
    publisher: overrides.publisher,
    bus: overrides.bus,
    onDeadLetter: async (topic, event, error) => {
      // Out of delivery attempts: what Pub/Sub's dead-letter topic would receive.
      const e = toGraphmillError(error);
      logger.error('event out of delivery attempts', { topic, code: e.code });
      if (topic === config.topics.ingestRequests) {
        await wiring.outOfDeliveries(decodeIngestRequest(event), e);
      }
    },
  });
  closers.push(() => raw.close());

  const breakers = () => ({
    firestore: policies.firestore.breaker?.state() ?? 'closed',
    bigquery: policies.bigquery.breaker?.state() ?? 'closed',
  });
  const adapters: Adapters = {
    pipeline,
    batches,
    deadLetters,
    ledgers,
    policies,
    tracker,
    publisher,
    bus,
    alerter,
    neo4j,
  };
  const wiring = makeUseCases(adapters, {
    config,
    logger,
    dlqSchedule: { ...DEFAULT_SCHEDULE, maxAttempts: config.dlqMaxAttempts },
    health: {
      checks: makeHealthChecks(config, { neo4j, status: rawStatus, ledgers, secrets }),
      breakers,
      // The health report's cache and timeouts run on real time, whatever clock the pipeline is given.
      clock: systemClock,
      sleep: realSleep,
      version: config.version,
    },
  });
  const useCasesFor = (functionName: string) => wiring.forFunction(functionName);
  if (bus) {
    const ingest = useCasesFor('ingestEvent').ingest;
    const phase = useCasesFor('phaseTransition').phaseTransition;
    bus.subscribe(config.topics.ingestRequests, (e) => ingest.handleDelivery(decodeIngestDelivery(e)));
    bus.subscribe(
      config.topics.phaseCompletions,
      async (e) => void (await phase.handleDelivery(decodePhaseCompletionDelivery(e))),
    );
  }

  let closed: Promise<void> | undefined;
  return {
    ...useCasesFor(overrides.functionName ?? 'graphmill'),
    forFunction: useCasesFor,
    adapters,
    drain: async () => {
      await bus?.drain();
    },
    close() {
      closed ??= (async () => {
        if (bus) await bus.drain();
        for (const c of closers)
          await c().catch((err: unknown) => logger.warn('close failed', { error: String(err) }));
      })();
      return closed;
    },
  };
}
