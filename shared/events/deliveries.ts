/**
 * CloudEvents decoded at the edge: an event function (and the local bus) turns the delivered CloudEvent
 * into a Delivery, and the use cases see only that. A message that cannot be decoded is still a delivery:
 * the use case dead-letters its raw payload.
 */
import { toGraphmillError, type GraphmillError } from '../errors';
import {
  IDEMPOTENCY_KEY_ATTRIBUTE,
  decodeIngestRequest,
  decodePhaseCompletionEvent,
  pubSubMessageMeta,
} from './codec';
import type { IngestRequest, PhaseCompletionEvent, PubSubCloudEvent } from './types';

interface DeliveryEnvelope {
  /** The Pub/Sub message id, else the CloudEvent id. */
  readonly eventId: string;
  /** The message data as delivered (base64), kept for a dead letter. */
  readonly payload: string;
  readonly idempotencyKey: string | undefined;
  /** Epoch ms: the CloudEvent `time`, else the message publish time; undefined when neither parses. */
  readonly sentAt: number | undefined;
}

export type Delivery<T> = DeliveryEnvelope &
  ({ readonly ok: true; readonly message: T } | { readonly ok: false; readonly error: GraphmillError });

function envelope(event: PubSubCloudEvent): DeliveryEnvelope {
  let sentAt: number | undefined;
  for (const candidate of [event.time, event.data?.message?.publishTime]) {
    if (candidate === undefined) continue;
    const at = Date.parse(candidate);
    if (!Number.isNaN(at)) {
      sentAt = at;
      break;
    }
  }
  return {
    eventId: pubSubMessageMeta(event).messageId ?? event.id,
    payload: event.data?.message?.data ?? '',
    idempotencyKey: event.data?.message?.attributes?.[IDEMPOTENCY_KEY_ATTRIBUTE],
    sentAt,
  };
}

function decodeWith<T>(event: PubSubCloudEvent, decode: (e: PubSubCloudEvent) => T): Delivery<T> {
  const env = envelope(event);
  try {
    return { ...env, ok: true, message: decode(event) };
  } catch (err) {
    return { ...env, ok: false, error: toGraphmillError(err) };
  }
}

export const decodeIngestDelivery = (event: PubSubCloudEvent): Delivery<IngestRequest> =>
  decodeWith(event, decodeIngestRequest);

export const decodePhaseCompletionDelivery = (event: PubSubCloudEvent): Delivery<PhaseCompletionEvent> =>
  decodeWith(event, decodePhaseCompletionEvent);

/** How old the delivery is at `now`; never negative (a publisher clock slightly ahead is not a future event). */
export const deliveryAgeMs = (delivery: DeliveryEnvelope, now: number): number | undefined =>
  delivery.sentAt === undefined ? undefined : Math.max(0, now - delivery.sentAt);
