/**
 * The in-process stand-in for Pub/Sub + Eventarc in local mode: an EventPublisher whose messages are
 * delivered, as the CloudEvent Eventarc would send (codec.ts), to the handlers subscribed to the topic:
 * the same handlers the event functions register on GCP.
 *
 * Modelled on a push subscription with a retry policy and a dead-letter topic:
 * - delivery is asynchronous: `publish` resolves with the message id once the message is queued, and
 *   handlers run later, never inside `publish`;
 * - every subscription of a topic gets every message (no subscription: the message is dropped, as Pub/Sub
 *   drops messages published before a subscription exists);
 * - a handler that resolves acknowledges; one that throws (or outlives the ack deadline) is nacked and
 *   the message is redelivered after an exponential backoff (`minBackoffMs` doubling up to
 *   `maxBackoffMs`, through the injected sleep) with the same message id, until `maxDeliveryAttempts`;
 *   then `onDeadLetter` receives it;
 * - at-least-once on demand: `duplicate` delivers every message twice (same message id, as a Pub/Sub
 *   redelivery would), `reorder` picks the next delivery at random (injected) among those pending.
 *
 * Where it differs from the real thing: ordering keys are carried in the event but not enforced (Pub/Sub
 * with message ordering would serialise deliveries per key); there is no flow control beyond
 * `concurrency`; a handler that outlives the ack deadline keeps running (as on Cloud Run) while the
 * message is redelivered, and `drain` does not wait for such abandoned runs; nothing survives the process.
 *
 * Everything is bounded: attempts per message, backoff per attempt, the ack deadline per delivery.
 */
import { dependencyTimeout, dependencyUnavailable } from '../../errors';
import type { Logger } from '../../logging';
import { errorCodeOf } from '../../resilience/classify';
import { realSleep, systemClock, systemRandom } from '../../resilience/time';
import type { Clock, Random, Sleep } from '../../ports/clock';
import {
  encodeMessageData,
  LOCAL_PROJECT_ID,
  messageAttributes,
  toPubSubCloudEvent,
} from '../../events/codec';
import type { PublishOptions, PubSubCloudEvent } from '../../events/types';
import type { EventPublisher } from '../../ports/event-publisher';

export type EventHandler = (event: PubSubCloudEvent) => Promise<void>;

export interface DeadLetterInfo {
  /** Full subscription name the message was delivered on. */
  readonly subscription: string;
  /** Delivery attempts made (== maxDeliveryAttempts). */
  readonly attempts: number;
}

export type DeadLetterCallback = (
  topic: string,
  event: PubSubCloudEvent,
  error: unknown,
  info: DeadLetterInfo,
) => void | Promise<void>;

export interface LocalEventBusOptions {
  /** Project id used in the CloudEvent `source` and subscription names. Default `graphmill-local`. */
  readonly projectId?: string;
  /** Waits out the redelivery backoff. Default: real time. */
  readonly sleep?: Sleep;
  /** Publish times. */
  readonly clock?: Clock;
  /** Picks the next delivery when `reorder` is on. */
  readonly random?: Random;
  /** Deliveries per message before it is dead-lettered (Pub/Sub allows 5-100). Default 5. */
  readonly maxDeliveryAttempts?: number;
  /** First redelivery delay; doubles per attempt. Default 100 ms (Pub/Sub's minimum is 10 s: too slow locally). */
  readonly minBackoffMs?: number;
  /** Cap on one redelivery delay. Default 10 s. */
  readonly maxBackoffMs?: number;
  /** A delivery not acknowledged within this is nacked and redelivered. Default 600 s (Pub/Sub's maximum). */
  readonly ackDeadlineMs?: number;
  /** Deliveries in flight at once, across topics. Default 4. */
  readonly concurrency?: number;
  /** Deliver every message twice. */
  readonly duplicate?: boolean;
  /** Deliver pending messages in random order. */
  readonly reorder?: boolean;
  /** Receives messages out of attempts. Default: an error log entry. */
  readonly onDeadLetter?: DeadLetterCallback;
  readonly logger?: Logger;
}

export interface LocalEventBusStats {
  readonly published: number;
  /** Published messages no subscription received. */
  readonly unrouted: number;
  /** Handler invocations, including redeliveries and duplicates. */
  readonly deliveries: number;
  readonly acked: number;
  readonly nacked: number;
  /** Nacks caused by the ack deadline passing. */
  readonly expired: number;
  readonly deadLettered: number;
}

interface Subscription {
  readonly topic: string;
  readonly name: string;
  readonly handler: EventHandler;
  active: boolean;
}

interface Delivery {
  readonly subscription: Subscription;
  readonly event: PubSubCloudEvent;
  readonly attempt: number;
}

export class LocalEventBus implements EventPublisher {
  private readonly subscriptions = new Map<string, Subscription[]>();
  private readonly pending: Delivery[] = [];
  private inFlight = 0;
  private backingOff = 0;
  private pumpScheduled = false;
  private closed = false;
  private nextMessageId = 1;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly counts = {
    published: 0,
    unrouted: 0,
    deliveries: 0,
    acked: 0,
    nacked: 0,
    expired: 0,
    deadLettered: 0,
  };

  private readonly projectId: string;
  private readonly sleep: Sleep;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly maxDeliveryAttempts: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly ackDeadlineMs: number;
  private readonly concurrency: number;
  private readonly onDeadLetter: DeadLetterCallback;

  constructor(private readonly options: LocalEventBusOptions = {}) {
    this.projectId = options.projectId ?? LOCAL_PROJECT_ID;
    this.sleep = options.sleep ?? realSleep;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.maxDeliveryAttempts = integerIn('maxDeliveryAttempts', options.maxDeliveryAttempts ?? 5, 1, 100);
    this.concurrency = integerIn('concurrency', options.concurrency ?? 4, 1, 10_000);
    this.minBackoffMs = finiteAtLeast('minBackoffMs', options.minBackoffMs ?? 100, 0);
    this.maxBackoffMs = finiteAtLeast('maxBackoffMs', options.maxBackoffMs ?? 10_000, this.minBackoffMs);
    this.ackDeadlineMs = finiteAtLeast('ackDeadlineMs', options.ackDeadlineMs ?? 600_000, 1);
    this.onDeadLetter =
      options.onDeadLetter ??
      ((topic, event, error, info) =>
        options.logger?.error('event dead-lettered', {
          topic,
          messageId: event.id,
          subscription: info.subscription,
          attempts: info.attempts,
          errorCode: errorCodeOf(error),
        }));
  }

  /**
   * Attaches `handler` to `topic` as a new subscription (like an Eventarc trigger). Returns a function
   * that detaches it; messages still pending for it are then dropped.
   */
  subscribe(topic: string, handler: EventHandler, options: { readonly name?: string } = {}): () => void {
    const list = this.subscriptions.get(topic) ?? [];
    const name = `projects/${this.projectId}/subscriptions/${options.name ?? `graphmill-local-${topic}${list.length === 0 ? '' : `-${list.length + 1}`}`}`;
    const subscription: Subscription = { topic, name, handler, active: true };
    this.subscriptions.set(topic, [...list, subscription]);
    return () => {
      subscription.active = false;
      const remaining = (this.subscriptions.get(topic) ?? []).filter((s) => s !== subscription);
      this.subscriptions.set(topic, remaining);
    };
  }

  publish(topic: string, data: unknown, options: PublishOptions): Promise<string> {
    try {
      if (this.closed) throw dependencyUnavailable('The event bus is closed');
      const raw = encodeMessageData(data);
      const attributes = messageAttributes(options);
      const messageId = String(this.nextMessageId++);
      const time = new Date(this.clock()).toISOString();
      this.counts.published++;
      const subscriptions = this.subscriptions.get(topic) ?? [];
      if (subscriptions.length === 0) {
        this.counts.unrouted++;
        this.options.logger?.warn('event published to a topic without subscribers', { topic, messageId });
      }
      for (const subscription of subscriptions) {
        const event = toPubSubCloudEvent(topic, raw, attributes, {
          id: messageId,
          time,
          projectId: this.projectId,
          subscription: subscription.name,
          ...(options.orderingKey === undefined ? {} : { orderingKey: options.orderingKey }),
        });
        const copies = this.options.duplicate === true ? 2 : 1;
        for (let i = 0; i < copies; i++) this.pending.push({ subscription, event, attempt: 1 });
      }
      this.schedulePump();
      return Promise.resolve(messageId);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Resolves when no delivery is pending, in flight or waiting out a backoff. */
  drain(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Delivers what was published (including what handlers publish meanwhile), then refuses new messages. */
  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
  }

  stats(): LocalEventBusStats {
    return { ...this.counts };
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // A macrotask, so messages published together are pending together (and `reorder` can shuffle them).
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.pending.length > 0) {
      const index = this.options.reorder
        ? Math.min(this.pending.length - 1, Math.floor(this.random() * this.pending.length))
        : 0;
      const [delivery] = this.pending.splice(index, 1);
      if (delivery === undefined) break;
      if (!delivery.subscription.active) continue;
      this.inFlight++;
      void this.deliver(delivery).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
    this.notifyIfIdle();
  }

  private async deliver(delivery: Delivery): Promise<void> {
    const { subscription, event, attempt } = delivery;
    this.counts.deliveries++;
    let failure: { error: unknown } | undefined;
    try {
      // A fresh copy per delivery: a handler that mutates its event cannot change a redelivery.
      await this.withinAckDeadline(() => subscription.handler(structuredClone(event)));
      this.counts.acked++;
      return;
    } catch (error) {
      failure = { error };
    }
    this.counts.nacked++;
    if (attempt >= this.maxDeliveryAttempts) {
      this.counts.deadLettered++;
      try {
        await this.onDeadLetter(subscription.topic, structuredClone(event), failure.error, {
          subscription: subscription.name,
          attempts: attempt,
        });
      } catch (err) {
        this.options.logger?.error('dead-letter callback failed', {
          topic: subscription.topic,
          messageId: event.id,
          errorCode: errorCodeOf(err),
        });
      }
      return;
    }
    this.options.logger?.debug('event nacked, redelivering', {
      topic: subscription.topic,
      messageId: event.id,
      attempt,
      errorCode: errorCodeOf(failure.error),
    });
    const delay = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** (attempt - 1));
    this.backingOff++;
    const requeue = (): void => {
      this.backingOff--;
      this.pending.push({ subscription, event, attempt: attempt + 1 });
      this.pump();
    };
    Promise.resolve()
      .then(() => this.sleep(delay))
      .then(requeue, requeue);
  }

  private withinAckDeadline(run: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // The ack deadline races a real handler: a real timer (backoff between deliveries uses the injected sleep).
      const timer = setTimeout(() => {
        this.counts.expired++;
        reject(dependencyTimeout(`Delivery not acknowledged within ${this.ackDeadlineMs} ms`));
      }, this.ackDeadlineMs);
      // Synchronous throws from a non-async handler count as a nack too.
      Promise.resolve()
        .then(run)
        .then(resolve, reject)
        .finally(() => clearTimeout(timer));
    });
  }

  private isIdle(): boolean {
    return this.pending.length === 0 && this.inFlight === 0 && this.backingOff === 0 && !this.pumpScheduled;
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`LocalEventBus: ${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

function finiteAtLeast(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) {
    throw new RangeError(`LocalEventBus: ${name} must be finite and >= ${min}, got ${value}`);
  }
  return value;
}
