/**
 * EventPublisher on Google Cloud Pub/Sub.
 *
 * Cold start: `@google-cloud/pubsub` (gRPC, protobufs, google-gax) is required inside the default client
 * factory, on the first publish, never at import, so a function that never publishes does not load it.
 * The client honours PUBSUB_EMULATOR_HOST by itself (the contract suite runs against the emulator).
 *
 * Batching: a function publishes a few messages per request and awaits each message id before it
 * acknowledges its own event, so every millisecond of batching window is added to its latency. The window
 * is therefore 10 ms (`maxMilliseconds`): messages published in the same tick, like a batch submission
 * fanning out one ingest request per document, still leave in one request (up to 100 messages or 1 MB,
 * well under Pub/Sub's 1000 messages / 10 MB per request), while a lone publish waits at most 10 ms.
 *
 * Bounds: the library retries a failed publish by itself (CANCELLED, UNKNOWN, DEADLINE_EXCEEDED,
 * RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE) for up to 600 s by default; `publishTimeoutMs`
 * (default 30 s) caps that, so a Pub/Sub outage turns into a retryable error well inside the function's
 * timeout instead of the function timing out.
 */
import {
  configInvalid,
  dependencyTimeout,
  dependencyUnavailable,
  internalError,
  isGraphmillError,
  type GraphmillError,
} from '../../errors';
import { encodeMessageData, messageAttributes } from '../../events/codec';
import type { PublishOptions } from '../../events/types';
import type { EventPublisher } from '../../ports/event-publisher';
import type { Logger } from '../../logging';
import { errorCodeOf, isRetryable } from '../../resilience/classify';

export interface BatchingSettings {
  readonly maxMessages: number;
  readonly maxMilliseconds: number;
  readonly maxBytes: number;
}

/** See the header for why the window is this small. */
export const DEFAULT_BATCHING: BatchingSettings = {
  maxMessages: 100,
  maxMilliseconds: 10,
  maxBytes: 1_000_000,
};
export const DEFAULT_PUBLISH_TIMEOUT_MS = 30_000;

/** Settings passed to `PubSub#topic` (a subset of the library's PublishOptions). */
export interface TopicSettings {
  batching: { maxMessages: number; maxMilliseconds: number; maxBytes: number };
  gaxOpts: { timeout: number };
  messageOrdering: boolean;
}

/** The slice of `Topic` this adapter uses (the real one satisfies it). */
export interface TopicLike {
  publishMessage(message: {
    data: Buffer;
    attributes: Record<string, string>;
    orderingKey?: string;
  }): Promise<string>;
  flush(): Promise<void>;
  resumePublishing(orderingKey: string): void;
}

/** The slice of `PubSub` this adapter uses. */
export interface PubSubLike {
  topic(name: string, settings: TopicSettings): TopicLike;
  close(): Promise<void>;
}

export interface PubSubEventPublisherOptions {
  /** Default: what the client detects (GOOGLE_CLOUD_PROJECT, credentials, metadata server). */
  readonly projectId?: string;
  readonly batching?: Partial<BatchingSettings>;
  readonly publishTimeoutMs?: number;
  /** Builds the client on the first publish; defaults to a real `PubSub`. */
  readonly client?: (config: { projectId?: string }) => PubSubLike;
  readonly logger?: Logger;
}

// gRPC status codes (see resilience/classify.ts).
const GRPC_CANCELLED = 1;
const GRPC_UNKNOWN = 2;
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_NOT_FOUND = 5;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNAUTHENTICATED = 16;

export class PubSubEventPublisher implements EventPublisher {
  private client: PubSubLike | undefined;
  private readonly topics = new Map<string, TopicLike>();
  private readonly settings: { batching: BatchingSettings; publishTimeoutMs: number };
  private closed = false;

  constructor(private readonly options: PubSubEventPublisherOptions = {}) {
    const batching = { ...DEFAULT_BATCHING, ...options.batching };
    const publishTimeoutMs = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    for (const [name, value] of Object.entries({ ...batching, publishTimeoutMs })) {
      if (!Number.isFinite(value) || value <= 0) {
        throw configInvalid(`Pub/Sub publisher: ${name} must be a positive number, got ${value}`);
      }
    }
    this.settings = { batching, publishTimeoutMs };
  }

  async publish(topic: string, data: unknown, options: PublishOptions): Promise<string> {
    if (this.closed) throw dependencyUnavailable('The event publisher is closed');
    if (topic.trim() === '') throw internalError('A Pub/Sub topic name must not be empty');
    const payload = encodeMessageData(data);
    const attributes = messageAttributes(options);
    const { orderingKey } = options;
    const target = this.topic(topic, orderingKey !== undefined);
    try {
      return await target.publishMessage({
        data: payload,
        attributes,
        ...(orderingKey === undefined ? {} : { orderingKey }),
      });
    } catch (err) {
      // After a failure the library pauses the ordering key; the caller's retry must be able to publish.
      if (orderingKey !== undefined) target.resumePublishing(orderingKey);
      const error = toPublishError(err, topic);
      this.options.logger?.warn('Pub/Sub publish failed', {
        topic,
        errorCode: errorCodeOf(err),
        retryable: error.retryable,
      });
      throw error;
    }
  }

  /** Sends what is still batched, then closes the client's connections. Never rejects. */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    if (client === undefined) return;
    const flushes = await Promise.allSettled([...this.topics.values()].map((t) => t.flush()));
    const failed = flushes.filter((r) => r.status === 'rejected');
    if (failed.length > 0) {
      this.options.logger?.warn('Pub/Sub flush on close failed', {
        topics: failed.length,
        errorCode: errorCodeOf((failed[0] as PromiseRejectedResult).reason),
      });
    }
    this.topics.clear();
    try {
      await client.close();
    } catch (err) {
      this.options.logger?.warn('Pub/Sub client close failed', { errorCode: errorCodeOf(err) });
    }
  }

  /**
   * One Topic object per topic (each owns a batch queue). Message ordering is enabled only on the object
   * used for messages that carry an ordering key, so unordered publishes keep full batching parallelism.
   */
  private topic(name: string, ordered: boolean): TopicLike {
    const key = `${ordered ? 'ordered' : 'unordered'}:${name}`;
    let topic = this.topics.get(key);
    if (topic === undefined) {
      topic = this.clientOnce().topic(name, {
        batching: { ...this.settings.batching },
        gaxOpts: { timeout: this.settings.publishTimeoutMs },
        messageOrdering: ordered,
      });
      this.topics.set(key, topic);
    }
    return topic;
  }

  private clientOnce(): PubSubLike {
    if (this.client === undefined) {
      const make = this.options.client ?? defaultClient;
      try {
        this.client = make(this.options.projectId === undefined ? {} : { projectId: this.options.projectId });
      } catch (err) {
        throw configInvalid('Could not create the Pub/Sub client', { cause: err });
      }
    }
    return this.client;
  }
}

function defaultClient(config: { projectId?: string }): PubSubLike {
  // Loaded here, not at the top of the module: see the header (cold start).
  const { PubSub } = require('@google-cloud/pubsub') as typeof import('@google-cloud/pubsub');
  return new PubSub(config);
}

/**
 * Retryable (the event function throws and Pub/Sub redelivers it) when the library's own publish retry
 * would also have retried the status, or the failure is a transient network one; permanent otherwise.
 */
export function toPublishError(err: unknown, topic: string): GraphmillError {
  if (isGraphmillError(err)) return err;
  const code = grpcCodeOf(err);
  const details = { topic, errorCode: errorCodeOf(err) };
  const extra = { cause: err, details };
  switch (code) {
    case GRPC_NOT_FOUND:
      return configInvalid(`Pub/Sub topic "${topic}" does not exist`, extra);
    case GRPC_PERMISSION_DENIED:
    case GRPC_UNAUTHENTICATED:
      return configInvalid(`Not allowed to publish to Pub/Sub topic "${topic}"`, extra);
    case GRPC_INVALID_ARGUMENT:
      return internalError(`Pub/Sub rejected a message for topic "${topic}" as invalid`, extra);
    case GRPC_DEADLINE_EXCEEDED:
      return dependencyTimeout(`Publishing to Pub/Sub topic "${topic}" timed out`, extra);
    case GRPC_CANCELLED:
    case GRPC_UNKNOWN:
      return dependencyUnavailable(`Pub/Sub is unavailable (publishing to "${topic}")`, extra);
    default:
      return isRetryable(err)
        ? dependencyUnavailable(`Pub/Sub is unavailable (publishing to "${topic}")`, extra)
        : internalError(`Publishing to Pub/Sub topic "${topic}" failed`, extra);
  }
}

function grpcCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 16 ? code : undefined;
}
