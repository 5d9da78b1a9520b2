/**
 * PubSubEventPublisher without a network: the library is replaced by a recording fake, which also proves
 * that importing the adapter does not load `@google-cloud/pubsub` (cold start) and that the default
 * client factory loads it on the first publish only.
 */
let mockLibraryLoads = 0;
const mockConstructed: unknown[] = [];
const mockTopicCalls: { name: string; settings: unknown }[] = [];
jest.mock('@google-cloud/pubsub', () => {
  mockLibraryLoads++;
  return {
    PubSub: class {
      constructor(config: unknown) {
        mockConstructed.push(config);
      }
      topic(name: string, settings: unknown) {
        mockTopicCalls.push({ name, settings });
        return {
          publishMessage: () => Promise.resolve('real-path-id'),
          flush: () => Promise.resolve(),
          resumePublishing: () => undefined,
        };
      }
      close() {
        return Promise.resolve();
      }
    },
  };
});

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  DEFAULT_BATCHING,
  PubSubEventPublisher,
  toPublishError,
  type PubSubLike,
  type TopicLike,
  type TopicSettings,
} from '../../../shared/adapters/pubsub/publisher';
import { dependencyTimeout } from '../../../shared/errors';

interface FakeTopic extends TopicLike {
  readonly name: string;
  readonly settings: TopicSettings;
  readonly sent: { data: Buffer; attributes: Record<string, string>; orderingKey?: string }[];
  readonly resumed: string[];
  flushes: number;
  failWith: Error | undefined;
}

function makeFakeClient() {
  const topics: FakeTopic[] = [];
  let closed = 0;
  let nextId = 100;
  const client: PubSubLike = {
    topic(name, settings) {
      const topic: FakeTopic = {
        name,
        settings,
        sent: [],
        resumed: [],
        flushes: 0,
        failWith: undefined,
        publishMessage(message) {
          if (topic.failWith !== undefined) return Promise.reject(topic.failWith);
          topic.sent.push(message);
          return Promise.resolve(String(nextId++));
        },
        flush() {
          topic.flushes++;
          return Promise.resolve();
        },
        resumePublishing(key) {
          topic.resumed.push(key);
        },
      };
      topics.push(topic);
      return topic;
    },
    close() {
      closed++;
      return Promise.resolve();
    },
  };
  return { client, topics, closedCount: () => closed };
}

const grpcError = (code: number, message = 'boom'): Error => Object.assign(new Error(message), { code });

describe('PubSubEventPublisher', () => {
  it('importing the adapter does not load @google-cloud/pubsub; the first publish does, once', async () => {
    expect(mockLibraryLoads).toBe(0);
    const publisher = new PubSubEventPublisher({ projectId: 'proj' });
    expect(mockLibraryLoads).toBe(0);

    await expect(publisher.publish('ingest-requests', { a: 1 }, { idempotencyKey: 'k' })).resolves.toBe(
      'real-path-id',
    );
    await publisher.publish('ingest-requests', { a: 2 }, { idempotencyKey: 'k2' });
    expect(mockLibraryLoads).toBe(1);
    expect(mockConstructed).toEqual([{ projectId: 'proj' }]);
    expect(mockTopicCalls).toHaveLength(1);
    await publisher.close();
  });

  it('creates one Topic per topic, with small-window batching and a bounded publish timeout', async () => {
    const fake = makeFakeClient();
    const publisher = new PubSubEventPublisher({ client: () => fake.client });
    await publisher.publish('a', 1, { idempotencyKey: 'k1' });
    await publisher.publish('a', 2, { idempotencyKey: 'k2' });
    await publisher.publish('b', 3, { idempotencyKey: 'k3' });

    expect(fake.topics.map((t) => t.name)).toEqual(['a', 'b']);
    expect(fake.topics[0]?.settings).toEqual({
      batching: { maxMessages: 100, maxMilliseconds: 10, maxBytes: 1_000_000 },
      gaxOpts: { timeout: 30_000 },
      messageOrdering: false,
    });
    expect(DEFAULT_BATCHING.maxMilliseconds).toBeLessThanOrEqual(10);
  });

  it('sends JSON data and the idempotencyKey attribute with the caller attributes', async () => {
    const fake = makeFakeClient();
    const publisher = new PubSubEventPublisher({ client: () => fake.client });
    const id = await publisher.publish(
      'phase-completions',
      { batchId: 'b-1', n: 2 },
      { idempotencyKey: 'b-1:ingest', attributes: { phase: 'ingest', idempotencyKey: 'ignored' } },
    );
    expect(id).toBe('100');
    const sent = fake.topics[0]?.sent[0];
    expect(sent?.data.toString('utf8')).toBe('{"batchId":"b-1","n":2}');
    expect(sent?.attributes).toEqual({ phase: 'ingest', idempotencyKey: 'b-1:ingest' });
    expect(sent).not.toHaveProperty('orderingKey');
  });

  it('enables message ordering only on the Topic object used with an ordering key', async () => {
    const fake = makeFakeClient();
    const publisher = new PubSubEventPublisher({ client: () => fake.client });
    await publisher.publish('t', 1, { idempotencyKey: 'k1' });
    await publisher.publish('t', 2, { idempotencyKey: 'k2', orderingKey: 'batch-1' });
    await publisher.publish('t', 3, { idempotencyKey: 'k3', orderingKey: 'batch-1' });
    expect(fake.topics.map((t) => t.settings.messageOrdering)).toEqual([false, true]);
    expect(fake.topics[1]?.sent.map((m) => m.orderingKey)).toEqual(['batch-1', 'batch-1']);
  });

  it('resumes a paused ordering key after a failed publish so the retry can go through', async () => {
    const fake = makeFakeClient();
    const publisher = new PubSubEventPublisher({ client: () => fake.client });
    await publisher.publish('t', 1, { idempotencyKey: 'k1', orderingKey: 'key' });
    const topic = fake.topics[0] as FakeTopic;
    topic.failWith = grpcError(14);
    await expect(
      publisher.publish('t', 2, { idempotencyKey: 'k2', orderingKey: 'key' }),
    ).rejects.toMatchObject({
      retryable: true,
    });
    expect(topic.resumed).toEqual(['key']);
  });

  it.each([
    ['UNAVAILABLE', grpcError(14), 'dependency_unavailable', true],
    ['RESOURCE_EXHAUSTED', grpcError(8), 'dependency_unavailable', true],
    ['INTERNAL', grpcError(13), 'dependency_unavailable', true],
    ['UNKNOWN', grpcError(2), 'dependency_unavailable', true],
    ['DEADLINE_EXCEEDED', grpcError(4), 'dependency_timeout', true],
    ['NOT_FOUND', grpcError(5), 'config_invalid', false],
    ['PERMISSION_DENIED', grpcError(7), 'config_invalid', false],
    ['INVALID_ARGUMENT', grpcError(3), 'internal', false],
    [
      'ECONNRESET',
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      'dependency_unavailable',
      true,
    ],
    ['an unclassified error', new Error('???'), 'internal', false],
  ])('classifies %s', async (_name, error, code, retryable) => {
    const fake = makeFakeClient();
    const publisher = new PubSubEventPublisher({ client: () => fake.client });
    await publisher.publish('t', 0, { idempotencyKey: 'k' });
    (fake.topics[0] as FakeTopic).failWith = error;
    const rejection = publisher.publish('t', 1, { idempotencyKey: 'k' });
    await expect(rejection).rejects.toMatchObject({ code, retryable });
    await expect(rejection).rejects.toHaveProperty('cause', error);
  });

  it('keeps a GraphmillError as it is', () => {
    const err = dependencyTimeout('x');
    expect(toPublishError(err, 't')).toBe(err);
  });

  it('rejects what cannot be published before touching the client', async () => {
    let created = 0;
    const publisher = new PubSubEventPublisher({
      client: () => {
        created++;
        return makeFakeClient().client;
      },
    });
    await expect(publisher.publish('t', undefined, { idempotencyKey: 'k' })).rejects.toMatchObject({
      retryable: false,
    });
    await expect(publisher.publish('t', {}, { idempotencyKey: '' })).rejects.toMatchObject({
      retryable: false,
    });
    expect(created).toBe(0);
  });

  it('reports a client that cannot be created as config_invalid', async () => {
    const publisher = new PubSubEventPublisher({
      client: () => {
        throw new Error('no credentials');
      },
    });
    await expect(publisher.publish('t', {}, { idempotencyKey: 'k' })).rejects.toMatchObject({
      code: 'config_invalid',
    });
  });

  it('close flushes every topic, closes the client, and later publishes fail retryably', async () => {
    const fake = makeFakeClient();
    const publisher = new PubSubEventPublisher({ client: () => fake.client });
    await publisher.publish('a', 1, { idempotencyKey: 'k' });
    await publisher.publish('b', 1, { idempotencyKey: 'k', orderingKey: 'o' });
    await publisher.close();
    expect(fake.topics.map((t) => t.flushes)).toEqual([1, 1]);
    expect(fake.closedCount()).toBe(1);
    await expect(publisher.publish('a', 1, { idempotencyKey: 'k' })).rejects.toMatchObject({
      code: 'dependency_unavailable',
      retryable: true,
    });
  });

  it('close without any publish creates no client', async () => {
    let created = 0;
    const publisher = new PubSubEventPublisher({
      client: () => {
        created++;
        return makeFakeClient().client;
      },
    });
    await publisher.close();
    expect(created).toBe(0);
  });

  it('rejects nonsensical batching settings', () => {
    expect(() => new PubSubEventPublisher({ batching: { maxMilliseconds: -1 } })).toThrow(
      expect.objectContaining({ code: 'config_invalid' }),
    );
  });
});

describe('cold start, outside jest (real require.cache)', () => {
  it('requiring publisher.ts in a fresh Node process loads no Google client library', () => {
    // Transpiles the TypeScript on the fly (no build needed) and lists what ended up in require.cache.
    const script = `
      const fs = require('node:fs');
      const ts = require('typescript');
      require.extensions['.ts'] = (module, filename) => {
        const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
          fileName: filename,
        });
        module._compile(outputText, filename);
      };
      const before = new Set(Object.keys(require.cache));
      require(${JSON.stringify(require.resolve('../../../shared/adapters/pubsub/publisher.ts'))});
      const loaded = Object.keys(require.cache).filter((k) => !before.has(k));
      process.stdout.write(JSON.stringify(loaded));
    `;
    const out = execFileSync(process.execPath, ['-e', script], {
      cwd: join(__dirname, '../../..'),
      timeout: 20_000,
    });
    const loaded = JSON.parse(out.toString('utf8')) as string[];
    expect(loaded.some((k) => k.endsWith(join('adapters', 'pubsub', 'publisher.ts')))).toBe(true);
    const packages = new Set(
      loaded.flatMap((k) => /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(k)?.[1] ?? []),
    );
    // zod comes with the codec and is loaded by every function already (config parsing); nothing else.
    expect([...packages]).toEqual(['zod']);
  });
});
