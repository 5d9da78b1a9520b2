/**
 * `gs://bucket/object` documents through the real `@google-cloud/storage` client, loaded and created on
 * the first fetch (cold start: functions that never read from GCS do not load it).
 *
 * Size is enforced twice. First the object's metadata: above `maxBytes` it is refused (413) without a
 * byte of content being requested. Then the download is pinned to the generation that metadata
 * described (an object overwritten in between is a 404 on that generation, not a different, larger
 * body), and every chunk is counted as it streams in: past `maxBytes` the stream is destroyed, which
 * closes the connection. The count is what makes decompressive transcoding safe too: for an object
 * stored gzip-encoded the metadata size is the compressed size, and the client inflates what it reads.
 *
 * The client's own retry is switched off (`autoRetry: false`; it sleeps on real timers for up to 600 s).
 * Retries come from the injected `retry`, normally the pipeline's bounded policy.
 */
import type { Readable } from 'node:stream';
import type { File, Storage } from '@google-cloud/storage';
import {
  configInvalid,
  contentTooLarge,
  dependencyTimeout,
  dependencyUnavailable,
  internalError,
  isGraphmillError,
  notFound,
  sourceForbidden,
  unsupportedContent,
  type GraphmillError,
} from '../../errors';
import { clip } from '../../errors/problem';
import { isRetryable, isRetryableHttpStatus, retryAfterMs } from '../../resilience/classify';
import type { FetchOptions } from '../../documents/types';
import type { Clock } from '../../ports/clock';
import type { DocumentSource } from '../../ports/document-source';
import { systemClock } from '../../resilience/time';
import { redactUrl } from '../../secrets/redaction';

/** Runs `fn` under a retry policy, e.g. `(fn) => policy.execute(() => fn())`. */
export type Retry = <T>(fn: () => Promise<T>) => Promise<T>;

export interface GcsSourceOptions {
  readonly projectId?: string;
  /** Another endpoint (an emulator or a local test server). Requests to a custom endpoint are not authenticated. */
  readonly apiEndpoint?: string;
  /** Buckets documents may come from; anything else is refused before any request. Unset: every bucket. */
  readonly allowedBuckets?: readonly string[];
  /** Per HTTP request, ms. Default: the client's. */
  readonly requestTimeoutMs?: number;
  readonly retry?: Retry;
  /** Builds the client on the first fetch; defaults to a real `Storage` from the options above. */
  readonly client?: () => Storage;
  /** Dates a Retry-After hint. Default: the system clock. */
  readonly clock?: Clock;
}

const noRetry: Retry = (fn) => fn();

export function makeGcsSource(options: GcsSourceOptions = {}): DocumentSource {
  const retry = options.retry ?? noRetry;
  const clock = options.clock ?? systemClock;
  // Bucket names are lower case; parseGsUrl lower-cases the URL's too.
  const allowed =
    options.allowedBuckets === undefined
      ? undefined
      : new Set(options.allowedBuckets.map((b) => b.toLowerCase()));
  let client: Storage | undefined;
  const storage = (): Storage => {
    if (client) return client;
    try {
      return (client = (options.client ?? (() => defaultClient(options)))());
    } catch (err) {
      throw configInvalid('Could not create the Cloud Storage client', { cause: err });
    }
  };

  return {
    schemes: ['gs:'],
    async fetch(record, { maxBytes, signal }: FetchOptions) {
      signal?.throwIfAborted();
      const { bucket, object } = parseGsUrl(record.source, record.id);
      if (allowed && !allowed.has(bucket)) {
        throw sourceForbidden(`Document ${record.id}: bucket "${bucket}" is not an allowed source`, {
          details: { bucket, reason: 'bucket-not-allowed' },
        });
      }
      const where = `gs://${bucket}/${object}`;

      return retry(async () => {
        const file = storage().bucket(bucket).file(object);
        let metadata: { size?: string | number; generation?: string | number };
        try {
          [metadata] = await file.getMetadata();
        } catch (err) {
          throw storageError(err, `Document ${record.id}: reading metadata of ${where}`, 'object', clock);
        }
        const size = Number(metadata.size);
        if (Number.isFinite(size) && size > maxBytes) {
          throw contentTooLarge(`Document ${record.id}: ${where} is ${size} bytes; the limit is ${maxBytes}`);
        }
        const pinned =
          metadata.generation === undefined
            ? file
            : storage().bucket(bucket).file(object, { generation: metadata.generation });
        try {
          return await download(pinned, maxBytes, signal, `Document ${record.id}: ${where}`);
        } catch (err) {
          if (signal?.aborted) throw signal.reason;
          // A 404 here means the generation we measured is gone (the object was replaced): retryable.
          throw storageError(err, `Document ${record.id}: downloading ${where}`, 'generation', clock);
        }
      });
    },
  };
}

async function download(
  file: File,
  maxBytes: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<Uint8Array> {
  const stream = file.createReadStream();
  const onAbort = (): void => {
    stream.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        await cutOff(stream);
        throw contentTooLarge(
          `${what} is larger than the limit of ${maxBytes} bytes (it grew after its metadata was read)`,
        );
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Destroys the download (closing its connection, so the rest is never read) and waits for the client's
 * own cleanup: on a stream error it destroys its keep-alive agent, and a request started before that
 * cleanup runs would be reset with it.
 */
async function cutOff(stream: Readable): Promise<void> {
  const closed = new Promise<void>((resolve) => {
    if (stream.closed) resolve();
    else stream.once('close', () => resolve());
  });
  stream.destroy();
  await closed;
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Cloud Storage's bucket names: letters, digits, `-`, `_` and `.`, 3 to 222 characters (no userinfo). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/i;

export function parseGsUrl(source: string, id: string): { bucket: string; object: string } {
  const match = /^gs:\/\/([^/?#]+)\/(.+)$/i.exec(source);
  if (!match?.[1] || !match[2] || !BUCKET_NAME.test(match[1])) {
    // Shown redacted and clipped: a mistyped source may carry credentials, and may be long.
    throw sourceForbidden(`Document ${id}: "${clip(redactUrl(source))}" is not a gs://bucket/object URL`);
  }
  // Object names are taken verbatim (they may contain '%', '?' and '#'); the client encodes them.
  return { bucket: match[1].toLowerCase(), object: match[2] };
}

function defaultClient(options: GcsSourceOptions): Storage {
  const { Storage: StorageClient } =
    require('@google-cloud/storage') as typeof import('@google-cloud/storage');
  return new StorageClient({
    ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
    ...(options.apiEndpoint === undefined ? {} : { apiEndpoint: options.apiEndpoint }),
    ...(options.requestTimeoutMs === undefined ? {} : { timeout: options.requestTimeoutMs }),
    retryOptions: { autoRetry: false, maxRetries: 0 },
  });
}

const TIMEOUT_CODES: ReadonlySet<string> = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT']);
/** A connection cut mid-body, or a body whose checksum did not match: read it again. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'ERR_STREAM_PREMATURE_CLOSE',
  'CONTENT_DOWNLOAD_MISMATCH',
]);

/**
 * ApiError (`code` = HTTP status, `response.headers`) and socket errors to GraphmillErrors. A 404 on the
 * metadata read is the document's absence (permanent); on the pinned download it means the object changed
 * under us (retryable).
 */
function storageError(
  err: unknown,
  what: string,
  missing: 'object' | 'generation',
  clock: Clock,
): GraphmillError {
  if (isGraphmillError(err)) return err;
  const bag = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; name?: unknown };
  const status = typeof bag.code === 'number' ? bag.code : undefined;
  const cause = { cause: err };
  if (status === 404) {
    return missing === 'object'
      ? notFound(`${what}: no such object`, cause)
      : dependencyUnavailable(`${what}: the object changed while it was read`, cause);
  }
  if (status === 401 || status === 403) return sourceForbidden(`${what}: access denied (${status})`, cause);
  if (status !== undefined && isRetryableHttpStatus(status)) {
    const ms = retryAfterMs(err, clock());
    return dependencyUnavailable(`${what}: Cloud Storage answered ${status}`, {
      ...cause,
      ...(ms === undefined ? {} : { retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)) }),
    });
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return unsupportedContent(`${what}: Cloud Storage answered ${status}`, cause);
  }
  if ((typeof bag.code === 'string' && TIMEOUT_CODES.has(bag.code)) || bag.name === 'TimeoutError') {
    return dependencyTimeout(`${what}: timed out`, cause);
  }
  if ((typeof bag.code === 'string' && TRANSIENT_CODES.has(bag.code)) || isRetryable(err)) {
    return dependencyUnavailable(`${what}: ${errorText(err)}`, cause);
  }
  // Nobody classified it: a bug, as toGraphmillError treats it (500, not retried).
  return internalError(`${what}: ${errorText(err)}`, cause);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
