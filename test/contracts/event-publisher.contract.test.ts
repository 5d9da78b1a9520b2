/**
 * The EventPublisher contract, run against every adapter: InMemoryEventPublisher and LocalEventBus always,
 * PubSubEventPublisher when PUBSUB_EMULATOR_HOST points at a Pub/Sub emulator on loopback (the GitHub
 * workflow starts one). What a consumer receives is read back the way each adapter delivers it: the
 * in-memory records, the bus's CloudEvents, a pull subscription on the emulator.
 */
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { PubSubEventPublisher } from '../../shared/adapters/pubsub/publisher';
import { GraphmillError } from '../../shared/errors';
import { decodePubSubMessage, pubSubMessageMeta } from '../../shared/events/codec';
import { LocalEventBus } from '../../shared/adapters/local-bus/bus';
import { InMemoryEventPublisher } from '../../shared/adapters/memory/event-publisher';
import type { EventPublisher } from '../../shared/ports/event-publisher';
import { z } from 'zod';

interface Observed {
  readonly messageId: string;
  readonly data: unknown;
  readonly attributes: Readonly<Record<string, string>>;
  readonly orderingKey: string | undefined;
}

interface Harness {
  readonly publisher: EventPublisher;
  /** A fresh topic, ready to receive (subscribed where the adapter needs it). */
  topic(): Promise<string>;
  /** What consumers of `topic` received once `count` messages arrived (or the adapter's wait ran out). */
  received(topic: string, count: number): Promise<Observed[]>;
  cleanup(): Promise<void>;
}

interface Subject {
  readonly name: string;
  make(): Promise<Harness>;
}

let topicSeq = 0;
const nextTopicName = (): string => `contract-${process.pid}-${Date.now()}-${++topicSeq}`;

const inMemory: Subject = {
  name: 'InMemoryEventPublisher',
  make: () => {
    const publisher = new InMemoryEventPublisher();
    return Promise.resolve({
      publisher,
      topic: () => Promise.resolve(nextTopicName()),
      received: (topic) =>
        Promise.resolve(
          publisher.messages(topic).map((m) => ({
            messageId: m.messageId,
            data: m.data,
            attributes: m.attributes,
            orderingKey: m.orderingKey,
          })),
        ),
      cleanup: () => publisher.close(),
    });
  },
};

const localBus: Subject = {
  name: 'LocalEventBus',
  make: () => {
    const bus = new LocalEventBus({ sleep: () => Promise.resolve() });
    const seen = new Map<string, Observed[]>();
    return Promise.resolve({
      publisher: bus,
      topic: () => {
        const topic = nextTopicName();
        seen.set(topic, []);
        bus.subscribe(topic, (event) => {
          const meta = pubSubMessageMeta(event);
          seen.get(topic)?.push({
            messageId: meta.messageId,
            data: decodePubSubMessage(event, z.unknown()),
            attributes: meta.attributes,
            orderingKey: (event.data?.message as { orderingKey?: string } | undefined)?.orderingKey,
          });
          return Promise.resolve();
        });
        return Promise.resolve(topic);
      },
      received: async (topic) => {
        await bus.drain();
        return seen.get(topic) ?? [];
      },
      cleanup: () => bus.close(),
    });
  },
};

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1):\d+$/;
const emulatorHost = process.env['PUBSUB_EMULATOR_HOST'];
const emulatorSkipReason =
  emulatorHost === undefined || emulatorHost === ''
    ? 'PUBSUB_EMULATOR_HOST is not set; the GitHub workflow runs it against the emulator'
    : LOOPBACK.test(emulatorHost)
      ? undefined
      : `PUBSUB_EMULATOR_HOST=${emulatorHost} is not a loopback address; tests only connect to loopback`;

const PULL_WAIT_MS = 10_000;

const pubSubEmulator: Subject = {
  name: `PubSubEventPublisher (emulator at ${emulatorHost ?? 'unset'})`,
  make: () => {
    const projectId = process.env['PUBSUB_PROJECT_ID'] ?? 'graphmill-emulator';
    const { PubSub: PubSubClient } = require('@google-cloud/pubsub') as typeof import('@google-cloud/pubsub');
    const admin: PubSub = new PubSubClient({ projectId });
    const publisher = new PubSubEventPublisher({ projectId });
    const inboxes = new Map<string, Observed[]>();
    const subscriptions: Subscription[] = [];
    return Promise.resolve({
      publisher,
      topic: async () => {
        const name = nextTopicName();
        const [topic] = await admin.createTopic(name);
        const [subscription] = await topic.createSubscription(`${name}-pull`, {
          enableMessageOrdering: true,
        });
        const inbox: Observed[] = [];
        inboxes.set(name, inbox);
        subscription.on('message', (message: Message) => {
          inbox.push({
            messageId: message.id,
            data: JSON.parse(message.data.toString('utf8')),
            attributes: { ...message.attributes },
            orderingKey: message.orderingKey === '' ? undefined : message.orderingKey,
          });
          message.ack();
        });
        subscriptions.push(subscription);
        return name;
      },
      received: async (topic, count) => {
        const inbox = inboxes.get(topic) ?? [];
        const deadline = Date.now() + (count === 0 ? 1000 : PULL_WAIT_MS);
        while (inbox.length < count || (count === 0 && Date.now() < deadline)) {
          if (Date.now() >= deadline) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return [...inbox];
      },
      cleanup: async () => {
        await publisher.close();
        await Promise.all(subscriptions.map((s) => s.close()));
        await admin.close();
      },
    });
  },
};

function contract(subject: Subject): void {
  let harness: Harness;
  beforeEach(async () => {
    harness = await subject.make();
  });
  afterEach(async () => {
    await harness.cleanup();
  });

  it('delivers the JSON data with the idempotencyKey and the given attributes', async () => {
    const topic = await harness.topic();
    const data = {
      batchId: 'b-1',
      phase: 'ingest',
      text: 'héllo 👋',
      n: 3,
      list: [1, null],
      when: new Date(0),
    };
    const id = await harness.publisher.publish(topic, data, {
      idempotencyKey: 'b-1:ingest:doc-1',
      attributes: { phase: 'ingest' },
    });
    expect(typeof id).toBe('string');
    expect(id).not.toBe('');

    const [message, ...rest] = await harness.received(topic, 1);
    expect(rest).toEqual([]);
    expect(message?.messageId).toBe(id);
    expect(message?.data).toEqual(JSON.parse(JSON.stringify(data)));
    expect(message?.attributes).toEqual({ phase: 'ingest', idempotencyKey: 'b-1:ingest:doc-1' });
    expect(message?.orderingKey).toBeUndefined();
  });

  it('keeps the idempotencyKey option over an attribute of the same name', async () => {
    const topic = await harness.topic();
    await harness.publisher.publish(
      topic,
      {},
      { idempotencyKey: 'real', attributes: { idempotencyKey: 'spoof' } },
    );
    const [message] = await harness.received(topic, 1);
    expect(message?.attributes['idempotencyKey']).toBe('real');
  });

  it('carries an ordering key', async () => {
    const topic = await harness.topic();
    await harness.publisher.publish(topic, { n: 1 }, { idempotencyKey: 'k1', orderingKey: 'batch-1' });
    const [message] = await harness.received(topic, 1);
    expect(message?.orderingKey).toBe('batch-1');
  });

  it('delivers every one of 20 concurrent publishes, with distinct message ids', async () => {
    const topic = await harness.topic();
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        harness.publisher.publish(topic, { n }, { idempotencyKey: `k-${n}` }),
      ),
    );
    expect(new Set(ids).size).toBe(20);
    const messages = await harness.received(topic, 20);
    expect(messages.map((m) => (m.data as { n: number }).n).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, n) => n),
    );
    expect(new Set(messages.map((m) => m.messageId))).toEqual(new Set(ids));
  });

  it.each([
    ['data JSON cannot carry', undefined, { idempotencyKey: 'k' }],
    ['an empty idempotency key', { n: 1 }, { idempotencyKey: '' }],
  ])('rejects %s with a permanent GraphmillError and sends nothing', async (_name, data, options) => {
    const topic = await harness.topic();
    const rejection = harness.publisher.publish(topic, data, options);
    await expect(rejection).rejects.toBeInstanceOf(GraphmillError);
    await expect(rejection).rejects.toMatchObject({ retryable: false });
    expect(await harness.received(topic, 0)).toEqual([]);
  });

  it('refuses to publish after close, retryably (another instance can take the work)', async () => {
    const topic = await harness.topic();
    await harness.publisher.close();
    await expect(harness.publisher.publish(topic, { n: 1 }, { idempotencyKey: 'k' })).rejects.toMatchObject({
      code: 'dependency_unavailable',
      retryable: true,
    });
  });
}

describe.each([inMemory, localBus])('EventPublisher contract: $name', (subject) => contract(subject));

if (emulatorSkipReason === undefined) {
  describe(`EventPublisher contract: ${pubSubEmulator.name}`, () => {
    jest.setTimeout(30_000);
    contract(pubSubEmulator);

    it('classifies a missing topic as a permanent configuration error', async () => {
      const publisher = new PubSubEventPublisher({
        projectId: process.env['PUBSUB_PROJECT_ID'] ?? 'graphmill-emulator',
      });
      try {
        await expect(
          publisher.publish(nextTopicName(), { n: 1 }, { idempotencyKey: 'k' }),
        ).rejects.toMatchObject({
          code: 'config_invalid',
          retryable: false,
        });
      } finally {
        await publisher.close();
      }
    });
  });
} else {
  console.info(`EventPublisher contract: PubSubEventPublisher skipped: ${emulatorSkipReason}`);
  describe.skip(`EventPublisher contract: PubSubEventPublisher (skipped: ${emulatorSkipReason})`, () => {
    it('runs against the Pub/Sub emulator', () => undefined);
  });
}
