/**
 * The analytics CompletionLedger on BigQuery (tables: infrastructure/bigquery/*.json, docs/data-model.md).
 *
 * Writes. `record` streams one row into `completions` (insertAll) with `insertId` = completionId, so
 * BigQuery's best-effort deduplication drops a redelivered row. Best effort means about a minute, so
 * duplicates can still land; every read therefore deduplicates by completion_id (first recorded copy
 * wins), and the aggregate counts distinct completions. `completions` is never modified by DML: rows in
 * the streaming buffer (the last ~30 minutes of streamed rows) cannot be updated or deleted, and cleanup
 * of duplicates would have to touch exactly those rows.
 *
 * The aggregate table. `document_status` (one row per document and phase, the foldAggregate rule) is
 * maintained by MERGE in `refreshAggregates(since)`, run periodically (by the reconciliation job), NOT
 * per record. Why: every MERGE is a DML job, and BigQuery runs at most a couple of mutating DML
 * statements per table at a time and queues only ~20 more before failing new ones; with Cloud Run
 * scaling out, a MERGE per completion would queue, fail and alert exactly when the pipeline is busiest,
 * and each one adds seconds and a minimum billed scan to the run. One periodic MERGE folds everything
 * recorded since a watermark. It recomputes each touched (document, phase) from all its completions
 * instead of adding increments, so it is idempotent: overlapping windows and late rows (recorded_at is
 * the writer's clock) are harmless, and the caller can pass a generous overlap.
 *
 * MERGE and the streaming buffer. MERGE cannot modify rows still in a streaming buffer. Its target,
 * `document_status`, is written only by this MERGE (DML), never streamed, so it has no streaming buffer;
 * `completions`, the streamed table, appears only in the MERGE's source, and reading streaming-buffer
 * rows in a query is allowed (they are included). So the MERGE never touches a buffered row.
 *
 * Reads. `aggregate()` folds from `completions` directly (clustered by document_id, so cheap): exact
 * and fresh even before the next refresh, which is what the tracker needs when it falls back to BigQuery
 * while Firestore is down. `document_status` serves dashboards and ad-hoc SQL.
 *
 * Every query is parameterized (`@name` parameters); only the fully qualified table names, which come
 * from configuration and are validated, are part of the SQL text.
 */
import type { BigQuery, BigQueryOptions } from '@google-cloud/bigquery';
import {
  configInvalid,
  dependencyTimeout,
  dependencyUnavailable,
  internalError,
  isGraphmillError,
  type GraphmillError,
} from '../../errors';
import { isRetryable, isRetryableHttpStatus, retryAfterMs } from '../../resilience/classify';
import type { Clock } from '../../ports/clock';
import { systemClock } from '../../resilience/time';
import type {
  CompletionFilter,
  CompletionRecord,
  CompletionStatus,
  PhaseAggregate,
} from '../../tracking/types';
import type { CompletionLedger } from '../../ports/completion-ledger';

/** Runs `fn` under a retry policy, e.g. `(fn) => policy.execute(() => fn())`. */
export type Retry = <T>(fn: () => Promise<T>) => Promise<T>;

export interface BigQueryCompletionLedgerOptions {
  /** Default: the client's (Application Default Credentials / the metadata server on Cloud Run). */
  readonly projectId?: string;
  /** Default `graphmill`. */
  readonly dataset?: string;
  /** Where query jobs run (the dataset's location). */
  readonly location?: string;
  /** Another endpoint (an emulator, a local test server). */
  readonly apiEndpoint?: string;
  /** Extra client options (e.g. `authClient` for an emulator). */
  readonly clientOptions?: Omit<BigQueryOptions, 'projectId' | 'location' | 'apiEndpoint'>;
  /** Builds the client on first use; defaults to a real BigQuery client from the options above. */
  readonly client?: () => BigQuery;
  /**
   * Wraps each call. Default: none, because the CompletionTracker already runs every ledger call under
   * the BigQuery retry + breaker policy; a second retry here would multiply attempts.
   */
  readonly retry?: Retry;
  /** Stamps `recorded_at` and dates a Retry-After hint. Default: the system clock. */
  readonly clock?: Clock;
}

export interface RefreshResult {
  /** Rows of `document_status` inserted or updated, when BigQuery reports it. */
  readonly affectedRows?: number;
}

const DATASET = /^[A-Za-z0-9_]{1,1024}$/;
const PROJECT = /^[a-z][a-z0-9.:-]{4,61}[a-z0-9]$/;

/** Reasons (in the error body) that mean "try again", whatever the HTTP status (403 rateLimitExceeded). */
const RETRYABLE_REASONS: ReadonlySet<string> = new Set([
  'backendError',
  'internalError',
  'jobBackendError',
  'jobInternalError',
  'rateLimitExceeded',
  'timeout',
]);

const RECORD_COLUMNS = `completion_id, document_id, batch_id, phase, status, chunk_count, content_hash,
      duration_ms, attempt, error_code, function_name, correlation_id,
      UNIX_MILLIS(occurred_at) AS occurred_at_ms`;

export class BigQueryCompletionLedger implements CompletionLedger {
  private client: BigQuery | undefined;
  private readonly dataset: string;
  private readonly retry: Retry;
  private readonly clock: Clock;

  constructor(private readonly options: BigQueryCompletionLedgerOptions = {}) {
    this.dataset = options.dataset ?? 'graphmill';
    if (!DATASET.test(this.dataset)) {
      throw configInvalid(`"${this.dataset}" is not a BigQuery dataset id`);
    }
    if (options.projectId !== undefined && !PROJECT.test(options.projectId)) {
      throw configInvalid(`"${options.projectId}" is not a Google Cloud project id`);
    }
    this.retry = options.retry ?? ((fn) => fn());
    this.clock = options.clock ?? systemClock;
  }

  async record(r: CompletionRecord): Promise<void> {
    const row = { insertId: r.completionId, json: toRow(r, this.clock()) };
    await this.call('inserting a completion', () =>
      this.bigquery()
        .dataset(this.dataset)
        .table('completions')
        // raw: the rows are already {insertId, json}. No skipping: a row that does not fit the schema is an
        // error to see, not to drop. partialRetries 0: retrying is the policy's decision, not the client's.
        .insert([row], { raw: true, skipInvalidRows: false, ignoreUnknownValues: false, partialRetries: 0 }),
    );
  }

  async get(completionId: string): Promise<CompletionRecord | undefined> {
    const rows = await this.query(
      'reading a completion',
      `SELECT ${RECORD_COLUMNS}
    FROM ${this.table('completions')}
    WHERE completion_id = @completionId
    ORDER BY recorded_at
    LIMIT 1`,
      { completionId },
    );
    const row = rows[0];
    return row === undefined ? undefined : fromRow(row);
  }

  async list(filter: CompletionFilter = {}): Promise<CompletionRecord[]> {
    const where: string[] = [];
    const params: Record<string, string | number | Date> = {};
    if (filter.documentId !== undefined) {
      where.push('document_id = @documentId');
      params['documentId'] = filter.documentId;
    }
    if (filter.batchId !== undefined) {
      where.push('batch_id = @batchId');
      params['batchId'] = filter.batchId;
    }
    if (filter.phase !== undefined) {
      where.push('phase = @phase');
      params['phase'] = filter.phase;
    }
    if (filter.since !== undefined) {
      where.push('occurred_at >= @since');
      params['since'] = timestampParam(filter.since, 'since');
    }
    if (filter.until !== undefined) {
      where.push('occurred_at < @until');
      params['until'] = timestampParam(filter.until, 'until');
    }
    let limit = '';
    if (filter.limit !== undefined) {
      if (!Number.isInteger(filter.limit) || filter.limit < 0) {
        throw configInvalid(`list limit must be a non-negative integer, got ${filter.limit}`);
      }
      if (filter.limit === 0) return [];
      limit = '\n    LIMIT @limit';
      params['limit'] = filter.limit;
    }
    const rows = await this.query(
      'listing completions',
      `SELECT ${RECORD_COLUMNS}
    FROM ${deduplicated(this.table('completions'), where.length === 0 ? 'TRUE' : where.join(' AND '))}
    ORDER BY occurred_at, completion_id${limit}`,
      params,
    );
    return rows.map(fromRow);
  }

  async aggregate(documentId: string, phase: string): Promise<PhaseAggregate | undefined> {
    const rows = await this.query(
      'reading an aggregate',
      `SELECT document_id, phase, completions,
      UNIX_MILLIS(first_occurred_at) AS first_occurred_at_ms,
      latest.status AS status,
      latest.completion_id AS last_completion_id,
      UNIX_MILLIS(latest.occurred_at) AS last_occurred_at_ms
    FROM (
      ${foldSql(deduplicated(this.table('completions'), 'document_id = @documentId AND phase = @phase'))}
    )`,
      { documentId, phase },
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      documentId: str(row, 'document_id'),
      phase: str(row, 'phase'),
      status: status(row),
      lastCompletionId: str(row, 'last_completion_id'),
      completions: int(row, 'completions'),
      firstOccurredAt: int(row, 'first_occurred_at_ms'),
      lastOccurredAt: int(row, 'last_occurred_at_ms'),
    };
  }

  /**
   * Folds every (document, phase) with a completion recorded at or after `since` (epoch ms) into
   * `document_status`, recomputed from all of its completions. Idempotent: pass an overlapping window
   * (the last run's start minus a margin for late rows and clock skew).
   */
  async refreshAggregates(options: { readonly since: number }): Promise<RefreshResult> {
    const completions = this.table('completions');
    const sql = `MERGE ${this.table('document_status')} AS target
USING (
  WITH touched AS (
    SELECT DISTINCT document_id, phase
    FROM ${completions}
    WHERE recorded_at >= @since
  )
  ${foldSql(`(
      SELECT * EXCEPT (copy_rank)
      FROM (
        SELECT c.*, ROW_NUMBER() OVER (PARTITION BY c.completion_id ORDER BY c.recorded_at) AS copy_rank
        FROM ${completions} AS c
        JOIN touched AS t ON c.document_id = t.document_id AND c.phase = t.phase
      )
      WHERE copy_rank = 1
    )`)}
) AS source
ON target.document_id = source.document_id AND target.phase = source.phase
WHEN MATCHED AND (
  target.last_completion_id IS DISTINCT FROM source.latest.completion_id
  OR target.completions IS DISTINCT FROM source.completions
  OR target.first_occurred_at IS DISTINCT FROM source.first_occurred_at
) THEN UPDATE SET
  status = source.latest.status,
  last_completion_id = source.latest.completion_id,
  completions = source.completions,
  first_occurred_at = source.first_occurred_at,
  last_occurred_at = source.latest.occurred_at,
  updated_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED THEN INSERT (
  document_id, phase, status, last_completion_id, completions, first_occurred_at, last_occurred_at, updated_at
) VALUES (
  source.document_id, source.phase, source.latest.status, source.latest.completion_id, source.completions,
  source.first_occurred_at, source.latest.occurred_at, CURRENT_TIMESTAMP()
)`;
    const params = { since: timestampParam(options.since, 'since') };
    const response = await this.call('refreshing document_status', async () => {
      // At run time query() resolves to [rows, nextQuery, jobs.query response]; the typings list only two.
      const result = (await this.bigquery().query({
        query: sql,
        params,
        ...this.locationOption(),
      })) as unknown as [unknown, unknown, { numDmlAffectedRows?: string | number } | undefined];
      return result[2];
    });
    const affected = Number(response?.numDmlAffectedRows);
    return Number.isSafeInteger(affected) ? { affectedRows: affected } : {};
  }

  private async query(
    what: string,
    sql: string,
    params: Record<string, string | number | Date>,
  ): Promise<Record<string, unknown>[]> {
    const withParams = Object.keys(params).length === 0 ? {} : { params };
    return this.call(what, async () => {
      const [rows] = await this.bigquery().query({ query: sql, ...withParams, ...this.locationOption() });
      return rows as Record<string, unknown>[];
    });
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.retry(async () => {
      try {
        return await fn();
      } catch (err) {
        throw bigQueryError(err, `BigQuery: ${what}`, this.clock);
      }
    });
  }

  private locationOption(): { location?: string } {
    return this.options.location === undefined ? {} : { location: this.options.location };
  }

  /**
   * `project.dataset.table`, backquoted. Without a configured project, `dataset.table`: BigQuery resolves
   * it in the project the query job runs in, the one the client discovered.
   */
  private table(name: 'completions' | 'document_status'): string {
    const project = this.options.projectId === undefined ? '' : `${this.options.projectId}.`;
    return `\`${project}${this.dataset}.${name}\``;
  }

  private bigquery(): BigQuery {
    if (this.client) return this.client;
    try {
      this.client = (this.options.client ?? (() => defaultClient(this.options)))();
    } catch (err) {
      throw configInvalid('Could not create the BigQuery client', { cause: err });
    }
    return this.client;
  }
}

/**
 * One row per (document_id, phase) of `source`: the foldAggregate rule in SQL. Latest wins by
 * occurred_at, then completion_id (ids are hex, so BigQuery's code-point order equals JavaScript's).
 */
function foldSql(source: string): string {
  return `SELECT
      document_id,
      phase,
      COUNT(*) AS completions,
      MIN(occurred_at) AS first_occurred_at,
      ARRAY_AGG(
        STRUCT(completion_id, status, occurred_at)
        ORDER BY occurred_at DESC, completion_id DESC
        LIMIT 1
      )[OFFSET(0)] AS latest
    FROM ${source}
    GROUP BY document_id, phase`;
}

/** The completions matching `where`, one row per completion_id (the first recorded copy). */
function deduplicated(table: string, where: string): string {
  return `(
      SELECT * EXCEPT (copy_rank)
      FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY completion_id ORDER BY recorded_at) AS copy_rank
        FROM ${table}
        WHERE ${where}
      )
      WHERE copy_rank = 1
    )`;
}

function defaultClient(options: BigQueryCompletionLedgerOptions): BigQuery {
  // Loaded here, not at import: functions that never write analytics do not pay for the client.
  const { BigQuery: Client } = require('@google-cloud/bigquery') as typeof import('@google-cloud/bigquery');
  return new Client({
    ...options.clientOptions,
    ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
    ...(options.location === undefined ? {} : { location: options.location }),
    ...(options.apiEndpoint === undefined ? {} : { apiEndpoint: options.apiEndpoint }),
    // The client's own retry sleeps on real timers and would nest inside ours: off.
    retryOptions: { autoRetry: false, maxRetries: 0 },
  });
}

/** A completion as an insertAll row: snake_case, absent optionals omitted (NULL), TIMESTAMPs as ISO strings. */
export function toRow(r: CompletionRecord, recordedAt: number): Record<string, string | number> {
  const row: Record<string, string | number> = {
    completion_id: r.completionId,
    document_id: r.documentId,
    phase: r.phase,
    status: r.status,
    occurred_at: isoTimestamp(r.occurredAt, 'occurredAt'),
    recorded_at: isoTimestamp(recordedAt, 'recordedAt'),
  };
  if (r.batchId !== undefined) row['batch_id'] = r.batchId;
  // INT64 columns: a fractional value would be rejected as an invalid row.
  if (r.chunkCount !== undefined) row['chunk_count'] = Math.round(r.chunkCount);
  if (r.contentHash !== undefined) row['content_hash'] = r.contentHash;
  if (r.durationMs !== undefined) row['duration_ms'] = Math.round(r.durationMs);
  if (r.attempt !== undefined) row['attempt'] = Math.round(r.attempt);
  if (r.errorCode !== undefined) row['error_code'] = r.errorCode;
  if (r.functionName !== undefined) row['function_name'] = r.functionName;
  if (r.correlationId !== undefined) row['correlation_id'] = r.correlationId;
  return row;
}

function fromRow(row: Record<string, unknown>): CompletionRecord {
  const optionalStr = (key: string): string | undefined =>
    row[key] === null || row[key] === undefined ? undefined : str(row, key);
  const optionalInt = (key: string): number | undefined => {
    const v = row[key];
    return v === null || v === undefined ? undefined : Number(v);
  };
  const batchId = optionalStr('batch_id');
  const chunkCount = optionalInt('chunk_count');
  const contentHash = optionalStr('content_hash');
  const durationMs = optionalInt('duration_ms');
  const attempt = optionalInt('attempt');
  const errorCode = optionalStr('error_code');
  const functionName = optionalStr('function_name');
  const correlationId = optionalStr('correlation_id');
  return {
    completionId: str(row, 'completion_id'),
    documentId: str(row, 'document_id'),
    phase: str(row, 'phase'),
    status: status(row),
    occurredAt: int(row, 'occurred_at_ms'),
    ...(batchId === undefined ? {} : { batchId }),
    ...(chunkCount === undefined ? {} : { chunkCount }),
    ...(contentHash === undefined ? {} : { contentHash }),
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(attempt === undefined ? {} : { attempt }),
    ...(errorCode === undefined ? {} : { errorCode }),
    ...(functionName === undefined ? {} : { functionName }),
    ...(correlationId === undefined ? {} : { correlationId }),
  };
}

function str(row: Record<string, unknown>, key: string): string {
  const v = row[key];
  if (typeof v !== 'string') throw internalError(`BigQuery row has no string "${key}"`);
  return v;
}

/** INT64 results arrive as numbers (the client's default, wrapIntegers off); UNIX_MILLIS fits safely. */
function int(row: Record<string, unknown>, key: string): number {
  const v = Number(row[key]);
  if (!Number.isSafeInteger(v)) throw internalError(`BigQuery row has no integer "${key}"`);
  return v;
}

function status(row: Record<string, unknown>): CompletionStatus {
  const v = str(row, 'status');
  if (v !== 'succeeded' && v !== 'failed') throw internalError(`BigQuery row has an unknown status "${v}"`);
  return v;
}

function isoTimestamp(ms: number, what: string): string {
  if (!Number.isFinite(ms)) throw internalError(`${what} is not a timestamp: ${ms}`);
  return new Date(ms).toISOString();
}

/** A Date makes the client send a TIMESTAMP parameter. */
function timestampParam(ms: number, what: string): Date {
  if (!Number.isFinite(ms)) throw configInvalid(`${what} is not a timestamp: ${ms}`);
  return new Date(ms);
}

interface ErrorShape {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  errors?: unknown;
}

/** The reasons in an ApiError's `errors` or a PartialFailureError's per-row `errors[].errors`. */
function reasonsOf(err: ErrorShape): string[] {
  const reasons: string[] = [];
  const visit = (list: unknown): void => {
    if (!Array.isArray(list)) return;
    for (const item of list as unknown[]) {
      if (typeof item !== 'object' || item === null) continue;
      const entry = item as { reason?: unknown; errors?: unknown };
      if (typeof entry.reason === 'string') reasons.push(entry.reason);
      visit(entry.errors);
    }
  };
  visit(err.errors);
  return reasons;
}

/**
 * BigQuery failures as GraphmillErrors, cause kept:
 * - 408/429/5xx, or a retryable reason (403 rateLimitExceeded, backendError, ...): retryable
 *   `dependency_unavailable`, with the server's Retry-After;
 * - 403 (accessDenied, quotaExceeded) and 404 (dataset or table missing): permanent `config_invalid`:
 *   the deployment's IAM or tables are wrong (infrastructure/setup.sh);
 * - 400 (invalid row or query) and row-level insert errors: permanent `internal`: the code and the schema
 *   disagree, which no retry fixes;
 * - socket errors: retryable; timeouts: `dependency_timeout`.
 */
export function bigQueryError(err: unknown, what: string, clock: Clock = systemClock): GraphmillError {
  if (isGraphmillError(err)) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorShape;
  const reasons = reasonsOf(e);
  const detail = `${typeof e.message === 'string' ? e.message.trim() : String(err)}`;
  const details = reasons.length > 0 ? { details: { reasons } } : {};
  const status = typeof e.code === 'number' ? e.code : undefined;
  const retryHint = (): { retryAfterSeconds?: number } => {
    const ms = retryAfterMs(err, clock());
    return ms === undefined ? {} : { retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)) };
  };

  if (
    reasons.some((r) => RETRYABLE_REASONS.has(r)) ||
    (status !== undefined && isRetryableHttpStatus(status))
  ) {
    return dependencyUnavailable(`${what} failed (${status ?? reasons.join(', ')}): ${detail}`, {
      cause: err,
      ...details,
      ...retryHint(),
    });
  }
  if (e.name === 'PartialFailureError') {
    return internalError(`${what}: rows rejected (${reasons.join(', ')}): ${detail}`, {
      cause: err,
      ...details,
    });
  }
  if (status === 403 || status === 404 || status === 401) {
    return configInvalid(`${what} failed (${status}): ${detail}`, { cause: err, ...details });
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return internalError(`${what} was rejected (${status}): ${detail}`, { cause: err, ...details });
  }
  if (e.code === 'ETIMEDOUT' || e.name === 'TimeoutError') {
    return dependencyTimeout(`${what} timed out`, { cause: err });
  }
  if (isRetryable(err)) return dependencyUnavailable(`${what} failed: ${detail}`, { cause: err });
  return internalError(`${what} failed: ${detail}`, { cause: err, ...details });
}
