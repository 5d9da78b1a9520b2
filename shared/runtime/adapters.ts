/**
 * Adapter factories for the ports that are not state: secrets, the graph writer (with its Neo4j access),
 * document sources and the event publisher (Pub/Sub or the in-process bus). The alerter has its own
 * factory (./alerter.ts).
 */
import { makeFileSource } from '../adapters/file/source';
import type { LocalEventBus, LocalEventBusOptions } from '../adapters/local-bus/bus';
import { makeNeo4jAccess, type Neo4jAccess } from '../adapters/neo4j/access';
import type { Config } from '../config';
import { inlineSource } from '../documents';
import { withPublishRetries } from '../events/retrying';
import type { Logger } from '../logging';
import type { Alerter } from '../ports/alerter';
import type { Clock } from '../ports/clock';
import type { DocumentSource } from '../ports/document-source';
import type { EventPublisher } from '../ports/event-publisher';
import type { SecretStore } from '../ports/secret-store';
import { RESILIENCE_PRESETS, makeResilientPolicy, type ResilienceDeps } from '../resilience';
import { CachedSecretStore, EnvSecretStore } from '../secrets';

/** Time, randomness and the logger every adapter's resilience policies share. */
export type Resilience = ResilienceDeps & { readonly logger: Logger };

const NEO4J_PASSWORD = 'neo4j-password';
const SLACK_WEBHOOK = 'slack-webhook-url';

export interface Secrets {
  readonly store: CachedSecretStore;
  /** The Neo4j password's name in the store. */
  readonly neo4jPassword: string;
  /** Reads the Slack webhook URL; undefined when none is configured. */
  readonly slackWebhook: (() => Promise<string>) | undefined;
}

/** Where secrets are read (the configured backend, or `raw`), cached either way. */
export function makeSecrets(config: Config, resilience: Resilience, raw: SecretStore | undefined): Secrets {
  let rawSecrets: SecretStore;
  if (raw) rawSecrets = raw;
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
  const store = new CachedSecretStore(rawSecrets, {
    clock: resilience.clock,
    ttlMs: config.secrets.cacheTtlMs,
    logger: resilience.logger,
  });
  const gcp = config.secrets.backend === 'secret-manager';
  const secretName = (gcpName: string | undefined, localName: string): string =>
    gcp ? (gcpName ?? localName) : localName;
  const hasWebhook = (gcp ? config.secrets.slackWebhookSecret : config.secrets.slackWebhookUrl) !== undefined;
  const webhookName = secretName(config.secrets.slackWebhookSecret, SLACK_WEBHOOK);
  return {
    store,
    neo4jPassword: secretName(config.secrets.neo4jPasswordSecret, NEO4J_PASSWORD),
    slackWebhook: hasWebhook ? () => store.get(webhookName) : undefined,
  };
}

/** Neo4j access: lazy, verified, with password refresh; an outage is alerted once. */
export function makeNeo4j(
  config: Config,
  resilience: Resilience,
  secrets: Secrets,
  alerter: Alerter,
  functionName: string,
): Neo4jAccess {
  const name = secrets.neo4jPassword;
  return makeNeo4jAccess({
    settings: config.neo4j,
    password: { get: () => secrets.store.get(name), invalidate: () => secrets.store.invalidate(name) },
    connectPolicy: makeResilientPolicy('neo4j-connect', RESILIENCE_PRESETS.neo4jConnect, resilience),
    logger: resilience.logger,
    onUnavailable: (e) =>
      void alerter.send({
        severity: 'critical',
        title: 'Neo4j is unreachable',
        functionName,
        errorType: e.code,
        message: e.message,
        dedupeKey: 'neo4j-unreachable',
      }),
  });
}

export function makeSources(
  config: Config,
  extra: readonly DocumentSource[],
  clock: Clock,
): DocumentSource[] {
  const sources: DocumentSource[] = [inlineSource, ...extra];
  if (config.mode === 'local') sources.push(makeFileSource(config.fileRoot));
  if (config.sources.https) {
    const { makeHttpsSource } =
      require('../adapters/https/source') as typeof import('../adapters/https/source');
    sources.push(makeHttpsSource({ timeoutMs: config.sources.fetchTimeoutMs, clock }));
  }
  const { makeGcsSource } =
    require('../adapters/storage/source') as typeof import('../adapters/storage/source');
  sources.push(
    makeGcsSource({
      ...(config.projectId ? { projectId: config.projectId } : {}),
      ...(config.sources.gcsBuckets ? { allowedBuckets: config.sources.gcsBuckets } : {}),
      requestTimeoutMs: config.sources.fetchTimeoutMs,
      clock,
    }),
  );
  return sources;
}

export interface Publishing {
  /** With bounded publish retries. */
  readonly publisher: EventPublisher;
  /** The unwrapped adapter, to close. */
  readonly raw: EventPublisher;
  /** The in-process bus, in local event mode. */
  readonly bus: LocalEventBus | undefined;
}

/** Pub/Sub, or the in-process bus that delivers to the same use cases (its subscriptions are the root's). */
export function makePublishing(
  config: Config,
  resilience: Resilience,
  options: {
    readonly publisher?: EventPublisher | undefined;
    readonly bus?: Omit<LocalEventBusOptions, 'logger' | 'sleep' | 'clock' | 'onDeadLetter'> | undefined;
    readonly onDeadLetter: NonNullable<LocalEventBusOptions['onDeadLetter']>;
  },
): Publishing {
  let raw: EventPublisher;
  let bus: LocalEventBus | undefined;
  if (options.publisher) raw = options.publisher;
  else if (config.adapters.eventBus === 'pubsub') {
    const { PubSubEventPublisher } =
      require('../adapters/pubsub/publisher') as typeof import('../adapters/pubsub/publisher');
    raw = new PubSubEventPublisher({
      ...(config.projectId ? { projectId: config.projectId } : {}),
      logger: resilience.logger,
    });
  } else {
    const { LocalEventBus } =
      require('../adapters/local-bus/bus') as typeof import('../adapters/local-bus/bus');
    bus = new LocalEventBus({
      logger: resilience.logger,
      sleep: resilience.sleep,
      clock: resilience.clock,
      ...(options.bus ?? {}),
      onDeadLetter: options.onDeadLetter,
    });
    raw = bus;
  }
  // One transient publish failure must not fail a run or a batch submission (bounded: 5 attempts, 10 s).
  const publisher = withPublishRetries(
    raw,
    makeResilientPolicy(
      'publish',
      { retry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 2_000, maxTotalMs: 10_000 } },
      resilience,
    ),
  );
  return { publisher, raw, bus };
}
