/**
 * `parseConfig(env)` validates every variable graphmill reads, once per instance, and reports every
 * problem in one error. docs/configuration.md documents the same table.
 */
import { z } from 'zod';
import { configInvalid } from '../errors';
import { REQUEST_BYTES_CEILING, REQUEST_BYTES_DEFAULT } from '../http/limits';
import { redactUrl } from '../secrets/redaction';

const int = (min: number, max: number, dflt: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return dflt;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const enumWithDefault = <T extends readonly [string, ...string[]]>(values: T, dflt: T[number] | undefined) =>
  z
    .string()
    .optional()
    .transform((v, ctx): T[number] | undefined => {
      if (v === undefined || v.trim() === '') return dflt;
      if (!(values as readonly string[]).includes(v.trim())) {
        ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')}, got "${v}"` });
        return z.NEVER;
      }
      return v.trim();
    });

const NEO4J_URI_PATTERN = /^(neo4j|neo4j\+s|neo4j\+ssc|bolt|bolt\+s|bolt\+ssc):\/\/[^\s/]+(:\d+)?\/?$/;

const schema = z.object({
  GRAPHMILL_MODE: enumWithDefault(['local', 'gcp'] as const, undefined),
  K_SERVICE: optionalString,
  GRAPHMILL_STATE_DIR: optionalString,
  GRAPHMILL_FILE_ROOT: optionalString,
  GOOGLE_CLOUD_PROJECT: optionalString,
  NEO4J_URI: optionalString,
  NEO4J_USERNAME: optionalString,
  NEO4J_PASSWORD: optionalString,
  NEO4J_DATABASE: optionalString,
  NEO4J_MAX_POOL_SIZE: int(1, 500, 20),
  NEO4J_CONNECTION_TIMEOUT_MS: int(100, 300_000, 10_000),
  NEO4J_ACQUISITION_TIMEOUT_MS: int(100, 300_000, 20_000),
  NEO4J_MAX_CONNECTION_LIFETIME_MS: int(1_000, 86_400_000, 1_800_000),
  NEO4J_MAX_TRANSACTION_RETRY_MS: int(0, 300_000, 15_000),
  CHUNK_SIZE: int(2, 1_000_000, 1000),
  CHUNK_OVERLAP: int(0, 999_999, 200),
  WRITE_BATCH_SIZE: int(1, 50_000, 1000),
  MAX_SAME_WRITE_FAILURES: int(1, 100, 3),
  MAX_DOCUMENT_BYTES: int(1, 2_147_483_647, 128 * 1024 * 1024),
  MAX_REQUEST_BYTES: int(256, REQUEST_BYTES_CEILING, REQUEST_BYTES_DEFAULT),
  FUNCTION_TIMEOUT_SECONDS: int(1, 3600, 540),
  LEASE_MARGIN_SECONDS: int(0, 3600, 60),
  NEO4J_PASSWORD_SECRET: optionalString,
  SECRET_CACHE_TTL_SECONDS: int(0, 86_400, 300),
  SLACK_WEBHOOK_URL: optionalString,
  SLACK_WEBHOOK_SECRET: optionalString,
  ALERT_DEDUP_SECONDS: int(0, 86_400, 300),
  BIGQUERY_DATASET: optionalString,
  BIGQUERY_LOCATION: optionalString,
  INGEST_TOPIC: optionalString,
  PHASE_TOPIC: optionalString,
  GRAPHMILL_PHASES: optionalString,
  BATCH_DEADLINE_SECONDS: int(60, 30 * 86_400, 6 * 3600),
  MAX_EVENT_AGE_SECONDS: int(60, 7 * 86_400, 3600),
  GCS_SOURCE_BUCKETS: optionalString,
  HTTPS_SOURCES: enumWithDefault(['on', 'off'] as const, 'on'),
  FETCH_TIMEOUT_MS: int(100, 600_000, 30_000),
  DLQ_MAX_ATTEMPTS: int(1, 100, 8),
  STATUS_STORE: enumWithDefault(['memory', 'sqlite', 'firestore'] as const, undefined),
  COMPLETION_LEDGERS: enumWithDefault(['memory', 'sqlite', 'gcp'] as const, undefined),
  EVENT_BUS: enumWithDefault(['local', 'pubsub'] as const, undefined),
  SECRETS_BACKEND: enumWithDefault(['env', 'secret-manager'] as const, undefined),
  GRAPHMILL_VERSION: optionalString,
  GRAPHMILL_BUILD_TIME: optionalString,
  LOG_LEVEL: enumWithDefault(['debug', 'info', 'notice', 'warning', 'error'] as const, 'info'),
  LOG_FORMAT: enumWithDefault(['json', 'pretty'] as const, undefined),
});

/** Every variable parseConfig reads; docs/configuration.md documents each (a test keeps them in step). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

export type Mode = 'local' | 'gcp';

export interface Config {
  readonly mode: Mode;
  readonly stateDir: string;
  readonly fileRoot: string;
  readonly projectId: string | undefined;
  readonly neo4j: {
    readonly uri: string;
    readonly username: string;
    readonly password: string | undefined;
    readonly database: string | undefined;
    readonly maxConnectionPoolSize: number;
    readonly connectionTimeoutMs: number;
    readonly connectionAcquisitionTimeoutMs: number;
    readonly maxConnectionLifetimeMs: number;
    readonly maxTransactionRetryTimeMs: number;
  };
  readonly chunking: { readonly chunkSize: number; readonly chunkOverlap: number };
  readonly writeBatchSize: number;
  readonly maxDocumentBytes: number;
  /** Consecutive attempts failing the same way mid-write before a document fails as `repeated_failure`. */
  readonly maxSameWriteFailures: number;
  readonly maxRequestBytes: number;
  readonly leaseMs: number;
  readonly log: { readonly level: string; readonly format: 'json' | 'pretty' };
  readonly secrets: {
    readonly backend: 'env' | 'secret-manager';
    readonly neo4jPasswordSecret: string | undefined;
    readonly slackWebhookSecret: string | undefined;
    readonly slackWebhookUrl: string | undefined;
    readonly cacheTtlMs: number;
  };
  readonly alertDedupMs: number;
  readonly bigquery: { readonly dataset: string; readonly location: string | undefined };
  readonly topics: { readonly ingestRequests: string; readonly phaseCompletions: string };
  /** The phase chain of a batch, in order; the first is graphmill's own ingest. */
  readonly phases: readonly string[];
  readonly batchDeadlineMs: number;
  readonly maxEventAgeMs: number;
  readonly sources: {
    readonly gcsBuckets: readonly string[] | undefined;
    readonly https: boolean;
    readonly fetchTimeoutMs: number;
  };
  readonly dlqMaxAttempts: number;
  /** Which adapter serves each port (defaults follow the mode; each can be overridden). */
  readonly adapters: {
    readonly statusStore: 'memory' | 'sqlite' | 'firestore';
    readonly completionLedgers: 'memory' | 'sqlite' | 'gcp';
    readonly eventBus: 'local' | 'pubsub';
  };
  readonly version: { readonly gitSha: string; readonly buildTime: string };
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Parses and validates the environment. Throws one `config_invalid` error naming every problem. */
export function parseConfig(env: Env, cwd: string = process.cwd()): Config {
  const parsed = schema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  const v = parsed.success ? parsed.data : undefined;
  const mode: Mode = v?.GRAPHMILL_MODE ?? (env['K_SERVICE'] ? 'gcp' : 'local');

  if (!env['NEO4J_URI']?.trim()) {
    problems.push('NEO4J_URI: required (e.g. neo4j+s://xxxx.databases.neo4j.io or bolt://127.0.0.1:7687)');
  } else if (/^[^/]*\/\/[^/?#]*@/.test(env['NEO4J_URI'].trim())) {
    // Never echoed: the userinfo is a password. The driver would not use it either.
    problems.push(
      `NEO4J_URI: must not carry credentials (set NEO4J_USERNAME and NEO4J_PASSWORD), got "${redactUrl(env['NEO4J_URI'].trim())}"`,
    );
  } else if (!NEO4J_URI_PATTERN.test(env['NEO4J_URI'].trim())) {
    problems.push(
      `NEO4J_URI: not a Neo4j URI (neo4j://, neo4j+s://, bolt://, bolt+s://), got "${redactUrl(env['NEO4J_URI'])}"`,
    );
  }
  const gcpSecrets = (v?.SECRETS_BACKEND ?? (mode === 'gcp' ? 'secret-manager' : 'env')) === 'secret-manager';
  if (gcpSecrets) {
    if (!env['NEO4J_PASSWORD_SECRET']?.trim()) {
      problems.push(
        'NEO4J_PASSWORD_SECRET: required with Secret Manager (the secret name, e.g. neo4j-password)',
      );
    }
  } else if (!env['NEO4J_PASSWORD']?.trim()) {
    problems.push('NEO4J_PASSWORD: required');
  }
  if (mode === 'gcp' && !env['GOOGLE_CLOUD_PROJECT']?.trim()) {
    problems.push('GOOGLE_CLOUD_PROJECT: required in gcp mode');
  }
  const phases = (env['GRAPHMILL_PHASES'] ?? 'ingest').split(',').map((p) => p.trim());
  if (phases.some((p) => !/^[a-z][a-z0-9_-]{0,39}$/.test(p)) || new Set(phases).size !== phases.length) {
    problems.push(
      `GRAPHMILL_PHASES: a comma-separated list of distinct phase names, got "${env['GRAPHMILL_PHASES']}"`,
    );
  }
  if (env['SLACK_WEBHOOK_URL'] && !/^https:\/\//.test(env['SLACK_WEBHOOK_URL'])) {
    problems.push('SLACK_WEBHOOK_URL: must be an https:// URL');
  }
  if (v && v.CHUNK_OVERLAP >= v.CHUNK_SIZE) {
    problems.push(`CHUNK_OVERLAP: must be smaller than CHUNK_SIZE (${v.CHUNK_OVERLAP} >= ${v.CHUNK_SIZE})`);
  }
  if (problems.length > 0 || !v) {
    throw configInvalid(`Invalid configuration:\n  - ${problems.join('\n  - ')}`, { details: { problems } });
  }

  return {
    mode,
    stateDir: v.GRAPHMILL_STATE_DIR ?? '.graphmill',
    fileRoot: v.GRAPHMILL_FILE_ROOT ?? cwd,
    projectId: v.GOOGLE_CLOUD_PROJECT,
    neo4j: {
      uri: v.NEO4J_URI as string,
      username: v.NEO4J_USERNAME ?? 'neo4j',
      password: v.NEO4J_PASSWORD,
      database: v.NEO4J_DATABASE,
      maxConnectionPoolSize: v.NEO4J_MAX_POOL_SIZE,
      connectionTimeoutMs: v.NEO4J_CONNECTION_TIMEOUT_MS,
      connectionAcquisitionTimeoutMs: v.NEO4J_ACQUISITION_TIMEOUT_MS,
      maxConnectionLifetimeMs: v.NEO4J_MAX_CONNECTION_LIFETIME_MS,
      maxTransactionRetryTimeMs: v.NEO4J_MAX_TRANSACTION_RETRY_MS,
    },
    chunking: { chunkSize: v.CHUNK_SIZE, chunkOverlap: v.CHUNK_OVERLAP },
    writeBatchSize: v.WRITE_BATCH_SIZE,
    maxDocumentBytes: v.MAX_DOCUMENT_BYTES,
    maxSameWriteFailures: v.MAX_SAME_WRITE_FAILURES,
    maxRequestBytes: v.MAX_REQUEST_BYTES,
    leaseMs: (v.FUNCTION_TIMEOUT_SECONDS + v.LEASE_MARGIN_SECONDS) * 1000,
    log: { level: v.LOG_LEVEL ?? 'info', format: v.LOG_FORMAT ?? (mode === 'gcp' ? 'json' : 'pretty') },
    secrets: {
      backend: gcpSecrets ? 'secret-manager' : 'env',
      neo4jPasswordSecret: v.NEO4J_PASSWORD_SECRET,
      slackWebhookSecret: v.SLACK_WEBHOOK_SECRET,
      slackWebhookUrl: v.SLACK_WEBHOOK_URL,
      cacheTtlMs: v.SECRET_CACHE_TTL_SECONDS * 1000,
    },
    alertDedupMs: v.ALERT_DEDUP_SECONDS * 1000,
    bigquery: { dataset: v.BIGQUERY_DATASET ?? 'graphmill', location: v.BIGQUERY_LOCATION },
    topics: {
      ingestRequests: v.INGEST_TOPIC ?? 'ingest-requests',
      phaseCompletions: v.PHASE_TOPIC ?? 'phase-completions',
    },
    phases,
    batchDeadlineMs: v.BATCH_DEADLINE_SECONDS * 1000,
    maxEventAgeMs: v.MAX_EVENT_AGE_SECONDS * 1000,
    sources: {
      gcsBuckets: v.GCS_SOURCE_BUCKETS?.split(',')
        .map((b) => b.trim())
        .filter((b) => b !== ''),
      https: v.HTTPS_SOURCES === 'on',
      fetchTimeoutMs: v.FETCH_TIMEOUT_MS,
    },
    dlqMaxAttempts: v.DLQ_MAX_ATTEMPTS,
    adapters: {
      statusStore: v.STATUS_STORE ?? (mode === 'gcp' ? 'firestore' : 'sqlite'),
      completionLedgers: v.COMPLETION_LEDGERS ?? (mode === 'gcp' ? 'gcp' : 'sqlite'),
      eventBus: v.EVENT_BUS ?? (mode === 'gcp' ? 'pubsub' : 'local'),
    },
    version: { gitSha: v.GRAPHMILL_VERSION ?? 'unknown', buildTime: v.GRAPHMILL_BUILD_TIME ?? 'unknown' },
  };
}
