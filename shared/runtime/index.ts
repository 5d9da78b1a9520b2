/**
 * The composition root: the one place that wires adapters to ports, from the configuration.
 *
 * - local mode (the embedded default): SQLite state under the state directory (status, batches, dead
 *   letters, the orchestration ledger; the analytics ledger in a second database file), secrets from the
 *   environment, an in-process event bus that delivers to the same handlers, alerts to the log or a
 *   Slack webhook, inline and file:// sources, https:// and gs:// through the guarded fetch;
 * - gcp mode: Firestore, BigQuery, Pub/Sub, Secret Manager, Cloud Storage and Slack.
 * Each port can be switched on its own (STATUS_STORE, COMPLETION_LEDGERS, EVENT_BUS, SECRETS_BACKEND).
 * GCP client libraries are required here, inside the branches that use them, so a local run or a cold
 * start never loads what it does not use.
 */
import { join } from 'node:path';
import { makeAlerter, type ManagedAlerter } from './alerter';
import type { BatchStore } from '../ports/batch-store';
import { InMemoryBatchStore } from '../adapters/memory/batch-store';
import type { Config } from '../config';
import { DEFAULT_SCHEDULE } from '../dlq/policy';
import { writeDeadLetter } from '../dlq/replay';
import type { DeadLetterStore } from '../ports/dead-letter-store';
import { InMemoryDeadLetterStore } from '../adapters/memory/dead-letter-store';
import { inlineSource, makeSourceRouter } from '../documents';
import { makeFileSource } from '../adapters/file/source';
import type { DocumentSource } from '../ports/document-source';
import { toGraphmillError } from '../errors';
import type { EventPublisher } from '../ports/event-publisher';
import { withPublishRetries } from '../events/retrying';
import type { LocalEventBus } from '../adapters/local-bus/bus';
import type { HealthCheck } from '../health';
import type { Logger } from '../logging';
import { makeNeo4jAccess, type Neo4jAccess } from '../adapters/neo4j/access';
import { makeNeo4jGraphWriter } from '../adapters/neo4j/graph-writer';
import type { GraphWriter } from '../ports/graph-writer';
import {
  handleIngestEvent,
  handlePhaseCompletion,
  markDeadLettered,
  type OrchestrationDeps,
} from '../pipeline/orchestration';
import type { PipelineDeps } from '../pipeline';
import {
  RESILIENCE_PRESETS,
  makeResilientPolicy,
  realSleep,
  systemClock,
  systemRandom,
  type ResilientPolicy,
} from '../resilience';
import type { Clock, Sleep } from '../ports/clock';
import { CachedSecretStore, EnvSecretStore } from '../secrets';
import type { SecretStore } from '../ports/secret-store';
import { InMemoryStatusStore } from '../adapters/memory/status-store';
import type { StatusStore } from '../ports/status-store';
import { withRetries } from '../status/retrying';
import { makeCompletionTracker, type CompletionTracker } from '../tracking/tracker';
import type { CompletionLedger } from '../ports/completion-ledger';
import { InMemoryCompletionLedger } from '../adapters/memory/completion-ledger';

export interface Runtime {
  readonly config: Config;
  readonly logger: Logger;
  readonly pipeline: PipelineDeps;
  readonly neo4j: Neo4jAccess;
  readonly batches: BatchStore;
  readonly deadLetters: DeadLetterStore;
  readonly ledgers: { readonly firestore: CompletionLedger; readonly bigquery: CompletionLedger };
  readonly policies: { readonly firestore: ResilientPolicy; readonly bigquery: ResilientPolicy };
  readonly tracker: CompletionTracker;
  readonly publisher: EventPublisher;
  /** The in-process bus, in local event mode (wait for it with `bus.drain()`). */
  readonly bus: LocalEventBus | undefined;
  readonly alerter: ManagedAlerter;
  readonly secrets: SecretStore;
  /** Cheap calls to each dependency, for the health function. */
  readonly healthChecks: readonly HealthCheck[];
  /** Current breaker states by dependency. */
  breakers(): Record<string, string>;
  /** The dependencies of the event handlers, as the named function sees them. */
  orchestration(functionName: string): OrchestrationDeps;
  close(): Promise<void>;
}

export interface RuntimeOverrides {
  /** The function (or `cli`) this runtime serves, named in alerts it raises itself. */
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

const NEO4J_PASSWORD = 'neo4j-password';
const SLACK_WEBHOOK = 'slack-webhook-url';

export function buildRuntime(config: Config, logger: Logger, overrides: RuntimeOverrides = {}): Runtime {
  const clock = overrides.clock ?? systemClock;
  const sleep = overrides.sleep ?? realSleep;
  const closers: (() => Promise<void>)[] = [];
  const resilience = { clock, sleep, random: systemRandom, logger };
  const policies = {
    firestore: makeResilientPolicy('firestore', RESILIENCE_PRESETS.firestore, resilience),
    bigquery: makeResilientPolicy('bigquery', RESILIENCE_PRESETS.bigquery, resilience),
  };

  // --- state: status, batches, dead letters, orchestration ledger -------------------------------------
  let status: StatusStore;
  let batches: BatchStore;
  let deadLetters: DeadLetterStore;
  let firestoreLedger: CompletionLedger;
  let bigqueryLedger: CompletionLedger;
  let firestoreCheck: HealthCheck | undefined;

  let firestoreClient: import('../adapters/firestore/client').LazyFirestore | undefined;
  const lazyFirestore = () => {
    if (!firestoreClient) {
      const { lazyFirestore: make } =
        require('../adapters/firestore/client') as typeof import('../adapters/firestore/client');
      firestoreClient = make(config.projectId ? { projectId: config.projectId } : {});
      closers.push(firestoreClient.close);
    }
    return firestoreClient;
  };
  let sqliteState:
    | { db: typeof import('../adapters/sqlite/database'); state: import('node:sqlite').DatabaseSync }
    | undefined;
  const sqlite = () => {
    if (!sqliteState) {
      const db = require('../adapters/sqlite/database') as typeof import('../adapters/sqlite/database');
      const state = db.openStateDatabase(config.stateDir);
      closers.push(() => Promise.resolve(state.close()));
      sqliteState = { db, state };
    }
    return sqliteState;
  };

  switch (config.adapters.statusStore) {
    case 'firestore': {
      const fs = lazyFirestore();
      const { FirestoreStatusStore } =
        require('../adapters/firestore/status-store') as typeof import('../adapters/firestore/status-store');
      const { FirestoreBatchStore } =
        require('../adapters/firestore/batch-store') as typeof import('../adapters/firestore/batch-store');
      const { FirestoreDeadLetterStore } =
        require('../adapters/firestore/dead-letter-store') as typeof import('../adapters/firestore/dead-letter-store');
      status = new FirestoreStatusStore(fs.get);
      batches = new FirestoreBatchStore(fs.get);
      deadLetters = new FirestoreDeadLetterStore(fs.get);
      firestoreCheck = { name: 'firestore', check: async () => void (await status.get('__health__')) };
      break;
    }
    case 'sqlite': {
      const { state } = sqlite();
      const { SqliteStatusStore } =
        require('../adapters/sqlite/status-store') as typeof import('../adapters/sqlite/status-store');
      const { SqliteBatchStore } =
        require('../adapters/sqlite/batch-store') as typeof import('../adapters/sqlite/batch-store');
      const { SqliteDeadLetterStore } =
        require('../adapters/sqlite/dead-letter-store') as typeof import('../adapters/sqlite/dead-letter-store');
      status = new SqliteStatusStore(state);
      batches = new SqliteBatchStore(state);
      deadLetters = new SqliteDeadLetterStore(state);
      break;
    }
    case 'memory':
      status = new InMemoryStatusStore();
      batches = new InMemoryBatchStore();
      deadLetters = new InMemoryDeadLetterStore();
      break;
  }

  if (overrides.ledgers) {
    firestoreLedger = overrides.ledgers.firestore;
    bigqueryLedger = overrides.ledgers.bigquery;
  } else {
    switch (config.adapters.completionLedgers) {
      case 'gcp': {
        const fs = lazyFirestore();
        const { FirestoreCompletionLedger } =
          require('../adapters/firestore/completion-ledger') as typeof import('../adapters/firestore/completion-ledger');
        const { BigQueryCompletionLedger } =
          require('../adapters/bigquery/completion-ledger') as typeof import('../adapters/bigquery/completion-ledger');
        firestoreLedger = new FirestoreCompletionLedger(fs.get);
        bigqueryLedger = new BigQueryCompletionLedger({
          ...(config.projectId ? { projectId: config.projectId } : {}),
          dataset: config.bigquery.dataset,
          ...(config.bigquery.location ? { location: config.bigquery.location } : {}),
        });
        break;
      }
      case 'sqlite': {
        // Two databases keep the two records independent, as Firestore and BigQuery are.
        const { db, state } = sqlite();
        const { SqliteCompletionLedger } =
          require('../adapters/sqlite/completion-ledger') as typeof import('../adapters/sqlite/completion-ledger');
        const analytics = db.openStateDatabase(join(config.stateDir, 'analytics'));
        closers.push(() => Promise.resolve(analytics.close()));
        firestoreLedger = new SqliteCompletionLedger(state);
        bigqueryLedger = new SqliteCompletionLedger(analytics);
        break;
      }
      case 'memory':
        firestoreLedger = new InMemoryCompletionLedger();
        bigqueryLedger = new InMemoryCompletionLedger();
        break;
    }
  }
  const tracker = makeCompletionTracker({
    firestore: firestoreLedger,
    bigquery: bigqueryLedger,
    firestorePolicy: policies.firestore,
    bigqueryPolicy: policies.bigquery,
    logger,
  });

  // --- secrets and alerts -------------------------------------------------------------------------------
  let rawSecrets: SecretStore;
  if (overrides.secrets) rawSecrets = overrides.secrets;
  else if (config.secrets.backend === 'secret-manager') {
    const { SecretManagerSecretStore } =
      require('../adapters/secret-manager/secret-store') as typeof import('../adapters/secret-manager/secret-store');
    rawSecrets = new SecretManagerSecretStore({
      projectId: config.projectId ?? '',
      policy: makeResilientPolicy('secret-manager', RESILIENCE_PRESETS.secretManager, resilience),
    });
  } else {
    rawSecrets = new EnvSecretStore(
      { NEO4J_PASSWORD: config.neo4j.password, SLACK_WEBHOOK_URL: config.secrets.slackWebhookUrl },
      { mapping: { [NEO4J_PASSWORD]: 'NEO4J_PASSWORD', [SLACK_WEBHOOK]: 'SLACK_WEBHOOK_URL' } },
    );
  }
  const secrets = new CachedSecretStore(rawSecrets, { clock, ttlMs: config.secrets.cacheTtlMs, logger });
  const secretName = (gcpName: string | undefined, localName: string): string =>
    config.secrets.backend === 'secret-manager' ? (gcpName ?? localName) : localName;
  const hasWebhook =
    (config.secrets.backend === 'secret-manager'
      ? config.secrets.slackWebhookSecret
      : config.secrets.slackWebhookUrl) !== undefined;
  const alerter =
    overrides.alerter ??
    makeAlerter({
      logger,
      clock,
      sleep,
      dedupeWindowMs: config.alertDedupMs,
      ...(hasWebhook
        ? { webhookUrl: () => secrets.get(secretName(config.secrets.slackWebhookSecret, SLACK_WEBHOOK)) }
        : {}),
    });
  closers.push(() => alerter.flush());

  // --- Neo4j -------------------------------------------------------------------------------------------
  const neo4jSecret = secretName(config.secrets.neo4jPasswordSecret, NEO4J_PASSWORD);
  const neo4j = makeNeo4jAccess({
    settings: config.neo4j,
    password: { get: () => secrets.get(neo4jSecret), invalidate: () => secrets.invalidate(neo4jSecret) },
    connectPolicy: makeResilientPolicy('neo4j-connect', RESILIENCE_PRESETS.neo4jConnect, resilience),
    logger,
    onUnavailable: (e) =>
      void alerter.send({
        severity: 'critical',
        title: 'Neo4j is unreachable',
        functionName: overrides.functionName ?? 'graphmill',
        errorType: e.code,
        message: e.message,
        dedupeKey: 'neo4j-unreachable',
      }),
  });
  closers.unshift(() => neo4j.close());
  const graph = overrides.graph ?? makeNeo4jGraphWriter(neo4j, { batchSize: config.writeBatchSize });

  // --- document sources ----------------------------------------------------------------------------------
  const sources: DocumentSource[] = [inlineSource, ...(overrides.sources ?? [])];
  if (config.mode === 'local') sources.push(makeFileSource(config.fileRoot));
  if (config.sources.https) {
    const { makeHttpsSource } =
      require('../adapters/https/source') as typeof import('../adapters/https/source');
    sources.push(makeHttpsSource({ timeoutMs: config.sources.fetchTimeoutMs }));
  }
  {
    const { makeGcsSource } =
      require('../adapters/storage/source') as typeof import('../adapters/storage/source');
    sources.push(
      makeGcsSource({
        ...(config.projectId ? { projectId: config.projectId } : {}),
        ...(config.sources.gcsBuckets ? { allowedBuckets: config.sources.gcsBuckets } : {}),
        requestTimeoutMs: config.sources.fetchTimeoutMs,
      }),
    );
  }

  const pipeline: PipelineDeps = {
    // Bounded retries around every state call (Firestore's preset: 5 attempts, 10 s; behind its breaker).
    status: withRetries(status, policies.firestore),
    source: makeSourceRouter(sources),
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

  // --- events --------------------------------------------------------------------------------------------
  let publisher: EventPublisher;
  let bus: LocalEventBus | undefined;
  if (overrides.publisher) publisher = overrides.publisher;
  else if (config.adapters.eventBus === 'pubsub') {
    const { PubSubEventPublisher } =
      require('../adapters/pubsub/publisher') as typeof import('../adapters/pubsub/publisher');
    publisher = new PubSubEventPublisher({
      ...(config.projectId ? { projectId: config.projectId } : {}),
      logger,
    });
  } else {
    const { LocalEventBus } =
      require('../adapters/local-bus/bus') as typeof import('../adapters/local-bus/bus');
    bus = new LocalEventBus({
      logger,
      sleep,
      clock,
      ...(overrides.bus ?? {}),
      onDeadLetter: async (topic, _event, error) => {
        // Out of delivery attempts: what Pub/Sub's dead-letter topic would receive.
        const e = toGraphmillError(error);
        logger.error('event out of delivery attempts', { topic, code: e.code });
        if (topic === config.topics.ingestRequests) {
          const { decodeIngestRequest } = require('../events/codec') as typeof import('../events/codec');
          const request = decodeIngestRequest(_event);
          const deps = orchestration('ingestEvent');
          const op = {
            kind: 'document' as const,
            documentId: request.documentId,
            action: request.action,
            ...(request.batchId !== undefined ? { batchId: request.batchId } : {}),
            ...(request.phase !== undefined ? { phase: request.phase } : {}),
            ...(request.correlationId !== undefined ? { correlationId: request.correlationId } : {}),
          };
          // The dead letter first: it is what keeps the work from being lost. Marking the status is second
          // and may fail on its own (the store may be what failed the deliveries).
          try {
            await writeDeadLetter(
              {
                store: deadLetters,
                alerter,
                clock,
                logger,
                functionName: 'ingestEvent',
                schedule: dlqSchedule,
              },
              op,
              e,
            );
          } catch (err) {
            logger.critical('dead letter could not be written; the operation is only in this log entry', {
              operation: op,
              code: e.code,
              error: toGraphmillError(err).message,
            });
            await alerter.send({
              severity: 'critical',
              title: 'A dead letter could not be written',
              functionName: 'ingestEvent',
              errorType: toGraphmillError(err).code,
              message: `Document ${op.documentId} ran out of delivery attempts (${e.code}) and its dead letter was not stored`,
              documentId: op.documentId,
              ...(op.batchId !== undefined ? { batchId: op.batchId } : {}),
            });
          }
          try {
            await markDeadLettered(deps, request.documentId, e);
          } catch (err) {
            logger.warn('could not mark the document dead_lettered', {
              documentId: request.documentId,
              error: toGraphmillError(err).message,
            });
          }
        }
      },
    });
    publisher = bus;
  }
  closers.push(() => publisher.close());
  // One transient publish failure must not fail a run or a batch submission (bounded: 5 attempts, 10 s).
  publisher = withPublishRetries(
    publisher,
    makeResilientPolicy(
      'publish',
      { retry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 2_000, maxTotalMs: 10_000 } },
      resilience,
    ),
  );

  const dlqSchedule = { ...DEFAULT_SCHEDULE, maxAttempts: config.dlqMaxAttempts };
  const orchestration = (functionName: string): OrchestrationDeps => ({
    pipeline,
    batches,
    tracker,
    publisher,
    deadLetters,
    alerter,
    clock,
    logger: logger.child({ function: functionName }),
    functionName,
    settings: {
      phases: config.phases,
      topics: config.topics,
      maxEventAgeMs: config.maxEventAgeMs,
      batchDeadlineMs: config.batchDeadlineMs,
      dlqSchedule,
    },
  });
  if (bus) {
    const deps = { ingest: orchestration('ingestEvent'), phase: orchestration('phaseTransition') };
    bus.subscribe(config.topics.ingestRequests, (e) => handleIngestEvent(deps.ingest, e));
    bus.subscribe(
      config.topics.phaseCompletions,
      async (e) => void (await handlePhaseCompletion(deps.phase, e)),
    );
  }

  const healthChecks: HealthCheck[] = [
    {
      name: 'neo4j',
      check: () =>
        neo4j.withDriver(async (driver) => {
          await driver.executeQuery(
            'RETURN 1',
            {},
            { routing: 'READ', ...(neo4j.database ? { database: neo4j.database } : {}) },
          );
        }),
    },
    firestoreCheck ?? { name: 'stateStore', check: async () => void (await status.get('__health__')) },
    {
      name: config.adapters.completionLedgers === 'gcp' ? 'bigquery' : 'analyticsLedger',
      check: async () => void (await bigqueryLedger.aggregate('__health__', '__health__')),
    },
    {
      name: config.secrets.backend === 'secret-manager' ? 'secretManager' : 'secrets',
      check: async () => void (await secrets.get(neo4jSecret)),
    },
  ];

  let closed: Promise<void> | undefined;
  return {
    config,
    logger,
    pipeline,
    neo4j,
    batches,
    deadLetters,
    ledgers: { firestore: firestoreLedger, bigquery: bigqueryLedger },
    policies,
    tracker,
    publisher,
    bus,
    alerter,
    secrets,
    healthChecks,
    breakers: () => ({
      firestore: policies.firestore.breaker?.state() ?? 'closed',
      bigquery: policies.bigquery.breaker?.state() ?? 'closed',
    }),
    orchestration,
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
