/**
 * The wire format of graphmill's events, shared by every publisher and by the event functions.
 *
 * On GCP an Eventarc Pub/Sub trigger delivers a CloudEvent in binary mode: the `ce-*` headers become the
 * envelope (`id` = the Pub/Sub message id, `type`, `source`, `time` = publish time) and the body is the
 * push payload `{ message: { data: base64(JSON), attributes, messageId, publishTime }, subscription }`.
 * `toPubSubCloudEvent` builds exactly that shape for the local bus and for tests; `decodePubSubMessage`
 * turns it back into one validated value at the edge, so handlers see a clean type.
 */
import { z } from 'zod';
import { badRequest, internalError } from '../errors';
import type { IngestRequest, PhaseCompletionEvent, PublishOptions, PubSubCloudEvent } from './types';

export const PUBSUB_MESSAGE_PUBLISHED = 'google.cloud.pubsub.topic.v1.messagePublished';
/** The attribute every graphmill message carries; consumers drop a key they have already handled. */
export const IDEMPOTENCY_KEY_ATTRIBUTE = 'idempotencyKey';
/** Project id used in `source` and `subscription` when none is given (local mode). */
export const LOCAL_PROJECT_ID = 'graphmill-local';

// Pub/Sub limits (https://cloud.google.com/pubsub/quotas#resource_limits).
const MAX_ATTRIBUTES = 100;
const MAX_ATTRIBUTE_KEY_BYTES = 256;
const MAX_ATTRIBUTE_VALUE_BYTES = 1024;
const MAX_ORDERING_KEY_BYTES = 1024;
/** 10 MB per message (data + attributes); checked on data alone, which dominates. */
export const MAX_MESSAGE_BYTES = 10_000_000;

// ---------------------------------------------------------------------------------------------------------
// Encoding (publishers)

/**
 * The message body: `data` as UTF-8 JSON. Rejects (permanent, it can never succeed as sent) what JSON
 * cannot carry faithfully: `undefined`, functions, BigInt, cycles, and bodies over the Pub/Sub limit.
 */
export function encodeMessageData(data: unknown): Buffer {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (err) {
    throw internalError('Event data is not JSON-serialisable', { cause: err });
  }
  if (json === undefined) throw internalError('Event data is not JSON-serialisable');
  const bytes = Buffer.from(json, 'utf8');
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw internalError('Event data exceeds the Pub/Sub message size limit', {
      details: { bytes: bytes.length, limit: MAX_MESSAGE_BYTES },
    });
  }
  return bytes;
}

/**
 * The attributes of a published message: the caller's attributes plus `idempotencyKey`, which always wins
 * (a caller attribute of that name cannot replace it). Validated against Pub/Sub's limits so every
 * adapter, in memory or real, rejects the same messages.
 */
export function messageAttributes(options: PublishOptions): Record<string, string> {
  const key: unknown = options.idempotencyKey;
  if (typeof key !== 'string' || key.trim() === '') {
    throw internalError('An event needs a non-empty idempotency key');
  }
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.attributes ?? {})) {
    if (name === IDEMPOTENCY_KEY_ATTRIBUTE) continue;
    attributes[name] = value;
  }
  attributes[IDEMPOTENCY_KEY_ATTRIBUTE] = key;
  const entries = Object.entries(attributes);
  if (entries.length > MAX_ATTRIBUTES) {
    throw internalError(`An event may carry at most ${MAX_ATTRIBUTES} attributes`);
  }
  for (const [name, value] of entries) {
    if (name === '' || name.startsWith('goog') || Buffer.byteLength(name) > MAX_ATTRIBUTE_KEY_BYTES) {
      throw internalError(`Invalid event attribute name "${name.slice(0, 64)}"`);
    }
    if (typeof value !== 'string' || Buffer.byteLength(value) > MAX_ATTRIBUTE_VALUE_BYTES) {
      throw internalError(
        `Event attribute "${name}" must be a string of at most ${MAX_ATTRIBUTE_VALUE_BYTES} bytes`,
      );
    }
  }
  if (options.orderingKey !== undefined) {
    const size = Buffer.byteLength(options.orderingKey);
    if (size === 0 || size > MAX_ORDERING_KEY_BYTES) {
      throw internalError(`An ordering key must be 1-${MAX_ORDERING_KEY_BYTES} bytes`);
    }
  }
  return attributes;
}

/** The Eventarc CloudEvent for a Pub/Sub message; what `PubSubCloudEvent` allows, made concrete. */
export interface EventarcPubSubCloudEvent extends PubSubCloudEvent {
  readonly specversion: '1.0';
  readonly type: typeof PUBSUB_MESSAGE_PUBLISHED;
  readonly datacontenttype: 'application/json';
  readonly time: string;
  readonly data: {
    readonly message: {
      readonly data: string;
      readonly attributes: Readonly<Record<string, string>>;
      readonly messageId: string;
      readonly publishTime: string;
      // The push payload repeats both ids in snake_case; handlers should read the camelCase ones.
      readonly message_id: string;
      readonly publish_time: string;
      readonly orderingKey?: string;
    };
    readonly subscription: string;
  };
}

export interface CloudEventOptions {
  /** The Pub/Sub message id (also the CloudEvent id, as Eventarc does). */
  readonly id: string;
  /** ISO 8601 publish time. */
  readonly time: string;
  readonly projectId?: string;
  /** Full subscription name; default `projects/PROJECT/subscriptions/graphmill-local-TOPIC`. */
  readonly subscription?: string;
  readonly orderingKey?: string;
}

/**
 * Builds the CloudEvent an Eventarc Pub/Sub trigger delivers for `data` published on `topic`. `data` is
 * the JSON value, or a Buffer already produced by `encodeMessageData`.
 */
export function toPubSubCloudEvent(
  topic: string,
  data: unknown,
  attributes: Readonly<Record<string, string>>,
  options: CloudEventOptions,
): EventarcPubSubCloudEvent {
  const projectId = options.projectId ?? LOCAL_PROJECT_ID;
  const payload = Buffer.isBuffer(data) ? data : encodeMessageData(data);
  const subscription = options.subscription ?? `projects/${projectId}/subscriptions/graphmill-local-${topic}`;
  return {
    specversion: '1.0',
    id: options.id,
    source: `//pubsub.googleapis.com/projects/${projectId}/topics/${topic}`,
    type: PUBSUB_MESSAGE_PUBLISHED,
    datacontenttype: 'application/json',
    time: options.time,
    data: {
      message: {
        data: payload.toString('base64'),
        attributes: { ...attributes },
        messageId: options.id,
        message_id: options.id,
        publishTime: options.time,
        publish_time: options.time,
        ...(options.orderingKey === undefined ? {} : { orderingKey: options.orderingKey }),
      },
      subscription,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Decoding (event functions)

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The validated body of the Pub/Sub message inside `event`. Anything malformed (not a Pub/Sub event, no
 * data, not base64, not UTF-8, not JSON, not matching `schema`) is a permanent `bad_request`: the event
 * function dead-letters it and acknowledges. The error says what is wrong in a few words and never
 * echoes the payload (it may be large, or carry what should not reach a log).
 */
export function decodePubSubMessage<T>(event: PubSubCloudEvent, schema: z.ZodType<T>): T {
  const raw = rawMessageData(event);
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(Buffer.from(raw, 'base64')));
  } catch {
    throw malformed(event, 'message data is not UTF-8 JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join('.') || 'data'}: ${issue.message}`);
    throw malformed(event, `invalid message: ${problems.join('; ')}`, { problems });
  }
  return parsed.data;
}

export interface PubSubMessageMeta {
  readonly messageId: string;
  readonly publishTime: string | undefined;
  readonly attributes: Readonly<Record<string, string>>;
  readonly idempotencyKey: string | undefined;
  readonly subscription: string | undefined;
}

/** The envelope facts handlers log and deduplicate on (message id, idempotency key, ...). */
export function pubSubMessageMeta(event: PubSubCloudEvent): PubSubMessageMeta {
  const message = event.data?.message;
  const attributes = message?.attributes ?? {};
  return {
    messageId: message?.messageId ?? event.id,
    publishTime: message?.publishTime ?? event.time,
    attributes,
    idempotencyKey: attributes[IDEMPOTENCY_KEY_ATTRIBUTE],
    subscription: event.data?.subscription,
  };
}

/**
 * How old the event is at `now` (epoch ms): from the CloudEvent `time`, else the message publish time.
 * Undefined when neither is a valid timestamp (the caller decides; usually: not too old). Never negative:
 * a publisher clock slightly ahead of ours is not a future event.
 */
export function eventAgeMs(event: PubSubCloudEvent, now: number): number | undefined {
  for (const candidate of [event.time, event.data?.message?.publishTime]) {
    if (candidate === undefined) continue;
    const at = Date.parse(candidate);
    if (!Number.isNaN(at)) return Math.max(0, now - at);
  }
  return undefined;
}

function rawMessageData(event: PubSubCloudEvent): string {
  if (typeof event !== 'object' || event === null) throw malformed(event, 'event is not an object');
  if (event.type !== PUBSUB_MESSAGE_PUBLISHED) {
    throw malformed(event, `unexpected event type "${String(event.type).slice(0, 100)}"`);
  }
  const data: unknown = event.data?.message?.data;
  if (typeof data !== 'string' || data === '') throw malformed(event, 'message has no data');
  if (!BASE64.test(data)) throw malformed(event, 'message data is not base64');
  return data;
}

function malformed(event: unknown, reason: string, extra: Record<string, unknown> = {}) {
  const id = typeof event === 'object' && event !== null ? (event as { id?: unknown }).id : undefined;
  return badRequest(`Malformed Pub/Sub event: ${reason}`, {
    details: { reason, ...(typeof id === 'string' ? { eventId: id } : {}), ...extra },
  });
}

// ---------------------------------------------------------------------------------------------------------
// Schemas of graphmill's two messages

const ACTIONS = ['process_document', 'reprocess_document', 'delete_document'] as const;
const id = z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters');
const isoTime = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 timestamp' });

const ingestInput = z.object({
  documentId: id.optional(),
  document_id: id.optional(),
  action: z.enum(ACTIONS).optional(),
  batchId: id.optional(),
  batch_id: id.optional(),
  phase: id.optional(),
  correlationId: id.optional(),
  correlation_id: id.optional(),
  requestedAt: isoTime.optional(),
  requested_at: isoTime.optional(),
});

/** Both spellings given must agree; returns the one value (or undefined). */
function either(
  ctx: z.RefinementCtx,
  camel: string | undefined,
  snake: string | undefined,
  name: string,
): string | undefined {
  if (camel !== undefined && snake !== undefined && camel !== snake) {
    ctx.addIssue({ code: 'custom', message: `${name} and its snake_case form disagree`, path: [name] });
  }
  return camel ?? snake;
}

/**
 * `ingest-requests` messages. camelCase as graphmill publishes them; snake_case (`document_id`,
 * `batch_id`, `correlation_id`, `requested_at`) as the existing HTTP clients write them. `action`
 * defaults to `process_document` like the HTTP body. `requestedAt` is required unless a fallback is given
 * (`decodeIngestRequest` uses the message's publish time).
 */
export function makeIngestRequestSchema(fallbackRequestedAt?: string): z.ZodType<IngestRequest> {
  return ingestInput.transform((input, ctx): IngestRequest => {
    const documentId = either(ctx, input.documentId, input.document_id, 'documentId');
    const batchId = either(ctx, input.batchId, input.batch_id, 'batchId');
    const correlationId = either(ctx, input.correlationId, input.correlation_id, 'correlationId');
    const requestedAt =
      either(ctx, input.requestedAt, input.requested_at, 'requestedAt') ?? fallbackRequestedAt;
    if (documentId === undefined) {
      ctx.addIssue({ code: 'custom', message: 'document_id is required', path: ['documentId'] });
    }
    if (requestedAt === undefined) {
      ctx.addIssue({ code: 'custom', message: 'requestedAt is required', path: ['requestedAt'] });
    }
    if (documentId === undefined || requestedAt === undefined) return z.NEVER;
    return {
      documentId,
      action: input.action ?? 'process_document',
      requestedAt,
      ...(batchId === undefined ? {} : { batchId }),
      ...(input.phase === undefined ? {} : { phase: input.phase }),
      ...(correlationId === undefined ? {} : { correlationId }),
    };
  });
}

export const ingestRequestSchema: z.ZodType<IngestRequest> = makeIngestRequestSchema();

/** Decodes an `ingest-requests` event; a request without `requestedAt` was requested when it was published. */
export function decodeIngestRequest(event: PubSubCloudEvent): IngestRequest {
  const published = event.data?.message?.publishTime ?? event.time;
  const fallback = published !== undefined && !Number.isNaN(Date.parse(published)) ? published : undefined;
  return decodePubSubMessage(event, makeIngestRequestSchema(fallback));
}

export const phaseCompletionEventSchema: z.ZodType<PhaseCompletionEvent> = z.object({
  eventId: id,
  batchId: id,
  phase: id,
  unit: id,
  status: z.enum(['succeeded', 'failed']),
  occurredAt: isoTime,
  correlationId: id,
});

export function decodePhaseCompletionEvent(event: PubSubCloudEvent): PhaseCompletionEvent {
  return decodePubSubMessage(event, phaseCompletionEventSchema);
}
