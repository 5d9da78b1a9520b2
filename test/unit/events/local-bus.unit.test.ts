import { dependencyUnavailable } from '../../../shared/errors';
import { decodePubSubMessage, pubSubMessageMeta } from '../../../shared/events/codec';
import { LocalEventBus, type LocalEventBusOptions } from '../../../shared/adapters/local-bus/bus';
import type { PubSubCloudEvent } from '../../../shared/events/types';
import { fixedRandom, makeFakeTime } from '../../../shared/resilience/testing';
import { z } from 'zod';

const numberSchema = z.object({ n: z.number() });
const valueOf = (event: PubSubCloudEvent): number => decodePubSubMessage(event, numberSchema).n;

function makeBus(options: Partial<LocalEventBusOptions> = {}) {
  const time = makeFakeTime(Date.parse('2025-01-01T00:00:00Z'));
  const deadLetters: { topic: string; event: PubSubCloudEvent; error: unknown; attempts: number }[] = [];
  const bus = new LocalEventBus({
    clock: time.clock,
    sleep: time.sleep,
    onDeadLetter: (topic, event, error, info) => {
      deadLetters.push({ topic, event, error, attempts: info.attempts });
    },
    ...options,
  });
  return { bus, time, deadLetters };
}

const publishN = async (bus: LocalEventBus, topic: string, count: number): Promise<string[]> => {
  const ids: string[] = [];
  for (let n = 0; n < count; n++) ids.push(await bus.publish(topic, { n }, { idempotencyKey: `k-${n}` }));
  return ids;
};

describe('LocalEventBus', () => {
  it('delivers the Eventarc CloudEvent to the subscriber, asynchronously, and acknowledges', async () => {
    const { bus } = makeBus();
    const received: PubSubCloudEvent[] = [];
    bus.subscribe('t', (event) => {
      received.push(event);
      return Promise.resolve();
    });

    const id = await bus.publish('t', { n: 1 }, { idempotencyKey: 'k-1', attributes: { kind: 'test' } });
    expect(received).toHaveLength(0); // not inside publish

    await bus.drain();
    expect(received).toHaveLength(1);
    const [event] = received as [PubSubCloudEvent];
    expect(event.id).toBe(id);
    expect(event.type).toBe('google.cloud.pubsub.topic.v1.messagePublished');
    expect(event.source).toBe('//pubsub.googleapis.com/projects/graphmill-local/topics/t');
    expect(event.time).toBe('2025-01-01T00:00:00.000Z');
    expect(valueOf(event)).toBe(1);
    expect(pubSubMessageMeta(event)).toMatchObject({
      messageId: id,
      idempotencyKey: 'k-1',
      attributes: { kind: 'test', idempotencyKey: 'k-1' },
    });
    expect(bus.stats()).toMatchObject({ published: 1, deliveries: 1, acked: 1, nacked: 0, deadLettered: 0 });
  });

  it('delivers each message to every subscription of its topic only', async () => {
    const { bus } = makeBus();
    const seen: string[] = [];
    bus.subscribe('a', () => Promise.resolve(void seen.push('a1')));
    bus.subscribe('a', () => Promise.resolve(void seen.push('a2')));
    bus.subscribe('b', () => Promise.resolve(void seen.push('b')));
    await bus.publish('a', { n: 1 }, { idempotencyKey: 'k' });
    await bus.publish('nobody', { n: 1 }, { idempotencyKey: 'k' });
    await bus.drain();
    expect(seen.sort()).toEqual(['a1', 'a2']);
    expect(bus.stats()).toMatchObject({ published: 2, unrouted: 1 });
  });

  it('redelivers a message whose handler throws, with backoff, then acknowledges', async () => {
    const { bus, time, deadLetters } = makeBus({ minBackoffMs: 100, maxBackoffMs: 1000 });
    const attempts: string[] = [];
    bus.subscribe('t', (event) => {
      attempts.push(event.id);
      if (attempts.length < 3) return Promise.reject(dependencyUnavailable('not yet'));
      return Promise.resolve();
    });
    const id = await bus.publish('t', { n: 1 }, { idempotencyKey: 'k' });
    await bus.drain();
    expect(attempts).toEqual([id, id, id]); // same message id on every redelivery
    expect(time.sleeps).toEqual([100, 200]);
    expect(deadLetters).toHaveLength(0);
    expect(bus.stats()).toMatchObject({ deliveries: 3, nacked: 2, acked: 1 });
  });

  it('dead-letters after maxDeliveryAttempts, with the last error, and stops', async () => {
    const { bus, time, deadLetters } = makeBus({
      maxDeliveryAttempts: 5,
      minBackoffMs: 10,
      maxBackoffMs: 50,
    });
    let calls = 0;
    const boom = new Error('permanent trouble');
    bus.subscribe('t', () => {
      calls++;
      throw boom; // a synchronous throw is a nack too
    });
    const id = await bus.publish('t', { n: 1 }, { idempotencyKey: 'k' });
    await bus.drain();
    expect(calls).toBe(5);
    expect(time.sleeps).toEqual([10, 20, 40, 50]);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({ topic: 't', error: boom, attempts: 5 });
    expect(deadLetters[0]?.event.id).toBe(id);
    expect(bus.stats()).toMatchObject({ deliveries: 5, nacked: 5, acked: 0, deadLettered: 1 });
  });

  it('survives a dead-letter callback that throws', async () => {
    const { bus } = makeBus({
      maxDeliveryAttempts: 1,
      onDeadLetter: () => {
        throw new Error('dlq down');
      },
    });
    bus.subscribe('t', () => Promise.reject(new Error('x')));
    await bus.publish('t', { n: 1 }, { idempotencyKey: 'k' });
    await expect(bus.drain()).resolves.toBeUndefined();
    expect(bus.stats().deadLettered).toBe(1);
  });

  it('duplicate mode delivers every message twice with the same id', async () => {
    const { bus } = makeBus({ duplicate: true });
    const seen = new Map<string, number>();
    bus.subscribe('t', (event) => {
      seen.set(event.id, (seen.get(event.id) ?? 0) + 1);
      return Promise.resolve();
    });
    const ids = await publishN(bus, 't', 10);
    await bus.drain();
    expect([...seen.keys()].sort()).toEqual([...ids].sort());
    expect([...seen.values()].every((count) => count === 2)).toBe(true);
  });

  it('reorder mode delivers every message, in another order than published', async () => {
    const random = (() => {
      let seed = 7;
      return () => {
        seed = (seed * 16807) % 2147483647;
        return (seed - 1) / 2147483646;
      };
    })();
    const { bus } = makeBus({ reorder: true, random, concurrency: 1 });
    const order: number[] = [];
    bus.subscribe('t', (event) => Promise.resolve(void order.push(valueOf(event))));
    await publishN(bus, 't', 20);
    await bus.drain();
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(order).not.toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('duplicate + reorder + failures: every message is handled at least twice and none is lost', async () => {
    const { bus, deadLetters } = makeBus({
      duplicate: true,
      reorder: true,
      random: fixedRandom(0.9, 0.1, 0.5, 0.3),
      concurrency: 3,
    });
    const successes = new Map<number, number>();
    let failuresLeft = 15;
    bus.subscribe('t', async (event) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (failuresLeft-- > 0) throw dependencyUnavailable('blip');
      const n = valueOf(event);
      successes.set(n, (successes.get(n) ?? 0) + 1);
    });
    await publishN(bus, 't', 25);
    await bus.drain();
    expect(deadLetters).toHaveLength(0);
    expect(successes.size).toBe(25);
    expect([...successes.values()].every((count) => count === 2)).toBe(true);
  });

  it('runs at most `concurrency` deliveries at once', async () => {
    const { bus } = makeBus({ concurrency: 3 });
    let running = 0;
    let peak = 0;
    bus.subscribe('t', async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 2));
      running--;
    });
    await publishN(bus, 't', 12);
    await bus.drain();
    expect(peak).toBe(3);
  });

  it('drain waits for what handlers publish, and resolves at once when idle', async () => {
    const { bus } = makeBus();
    await expect(bus.drain()).resolves.toBeUndefined();
    const seen: string[] = [];
    bus.subscribe('first', async () => {
      seen.push('first');
      await bus.publish('second', { n: 2 }, { idempotencyKey: 'k2' });
    });
    bus.subscribe('second', () => Promise.resolve(void seen.push('second')));
    await bus.publish('first', { n: 1 }, { idempotencyKey: 'k1' });
    await bus.drain();
    expect(seen).toEqual(['first', 'second']);
  });

  it('a delivery past the ack deadline is nacked and redelivered', async () => {
    const { bus, deadLetters } = makeBus({ ackDeadlineMs: 20, maxDeliveryAttempts: 2 });
    let calls = 0;
    bus.subscribe('t', () => {
      calls++;
      // The first run never settles (a hung dependency); the redelivery succeeds.
      return calls === 1 ? new Promise<void>(() => undefined) : Promise.resolve();
    });
    await bus.publish('t', { n: 1 }, { idempotencyKey: 'k' });
    await bus.drain();
    expect(calls).toBe(2);
    expect(deadLetters).toHaveLength(0);
    expect(bus.stats()).toMatchObject({ expired: 1, nacked: 1, acked: 1 });
  });

  it('drops pending messages of an unsubscribed handler', async () => {
    const { bus } = makeBus();
    let calls = 0;
    const unsubscribe = bus.subscribe('t', () => Promise.resolve(void calls++));
    await bus.publish('t', { n: 1 }, { idempotencyKey: 'k' });
    unsubscribe();
    await bus.drain();
    expect(calls).toBe(0);
  });

  it('close delivers what is pending, then refuses new messages with a retryable error', async () => {
    const { bus } = makeBus();
    let calls = 0;
    bus.subscribe('t', () => Promise.resolve(void calls++));
    await bus.publish('t', { n: 1 }, { idempotencyKey: 'k' });
    await bus.close();
    expect(calls).toBe(1);
    await expect(bus.publish('t', { n: 2 }, { idempotencyKey: 'k' })).rejects.toMatchObject({
      code: 'dependency_unavailable',
      retryable: true,
    });
  });

  it('rejects invalid options', () => {
    expect(() => new LocalEventBus({ maxDeliveryAttempts: 0 })).toThrow(RangeError);
    expect(() => new LocalEventBus({ concurrency: 1.5 })).toThrow(RangeError);
    expect(() => new LocalEventBus({ minBackoffMs: 100, maxBackoffMs: 10 })).toThrow(RangeError);
  });
});
