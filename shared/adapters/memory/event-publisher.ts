/**
 * An EventPublisher that keeps what it was given, for tests and for wiring that only needs to observe
 * publications. It encodes and validates exactly like the real adapter (codec.ts), so a message the
 * Pub/Sub publisher would reject is rejected here too, and what it records is what the wire would carry.
 */
import { dependencyUnavailable } from '../../errors';
import { encodeMessageData, messageAttributes } from '../../events/codec';
import type { PublishOptions } from '../../events/types';
import type { EventPublisher } from '../../ports/event-publisher';
import { systemClock } from '../../resilience/time';
import { settle } from '../settle';

export interface PublishedMessage {
  readonly topic: string;
  readonly messageId: string;
  /** The JSON body as a consumer decodes it (a round trip through JSON, not the caller's object). */
  readonly data: unknown;
  /** The exact bytes that would go on the wire. */
  readonly raw: Buffer;
  readonly attributes: Readonly<Record<string, string>>;
  readonly orderingKey?: string;
  /** Epoch ms, from the injected clock. */
  readonly publishedAt: number;
}

/** Decides whether a publish fails: return (or throw) an error to fail it, undefined to let it through. */
export type PublishFault = (topic: string, data: unknown, options: PublishOptions) => Error | undefined;

export interface InMemoryEventPublisherOptions {
  readonly clock?: () => number;
}

export class InMemoryEventPublisher implements EventPublisher {
  private readonly records: PublishedMessage[] = [];
  private readonly failures: Error[] = [];
  private fault: PublishFault | undefined;
  private closed = false;
  private nextId = 1;
  private readonly clock: () => number;

  constructor(options: InMemoryEventPublisherOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  publish(topic: string, data: unknown, options: PublishOptions): Promise<string> {
    return settle(() => {
      if (this.closed) throw dependencyUnavailable('The event publisher is closed');
      const queued = this.failures.shift();
      if (queued !== undefined) throw queued;
      const injected = this.fault?.(topic, data, options);
      if (injected !== undefined) throw injected;
      const raw = encodeMessageData(data);
      const attributes = messageAttributes(options);
      const messageId = String(this.nextId++);
      this.records.push({
        topic,
        messageId,
        data: JSON.parse(raw.toString('utf8')),
        raw,
        attributes,
        ...(options.orderingKey === undefined ? {} : { orderingKey: options.orderingKey }),
        publishedAt: this.clock(),
      });
      return messageId;
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Every message published so far, or those of one topic, in publish order. */
  messages(topic?: string): readonly PublishedMessage[] {
    return topic === undefined ? [...this.records] : this.records.filter((m) => m.topic === topic);
  }

  /** The next `count` publishes reject with `error` (then publishing works again). */
  failNext(count: number, error: Error): void {
    for (let i = 0; i < count; i++) this.failures.push(error);
  }

  /** Installs (or with undefined removes) a fault consulted on every publish. */
  setFault(fault: PublishFault | undefined): void {
    this.fault = fault;
  }

  /** Forgets recorded messages and pending failures; a closed publisher stays closed. */
  clear(): void {
    this.records.length = 0;
    this.failures.length = 0;
  }
}
