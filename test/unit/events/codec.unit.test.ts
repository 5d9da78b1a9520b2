import { z } from 'zod';
import { GraphmillError } from '../../../shared/errors';
import {
  IDEMPOTENCY_KEY_ATTRIBUTE,
  PUBSUB_MESSAGE_PUBLISHED,
  decodeIngestRequest,
  decodePhaseCompletionEvent,
  decodePubSubMessage,
  encodeMessageData,
  eventAgeMs,
  ingestRequestSchema,
  messageAttributes,
  phaseCompletionEventSchema,
  pubSubMessageMeta,
  toPubSubCloudEvent,
} from '../../../shared/events/codec';
import type { PubSubCloudEvent } from '../../../shared/events/types';

const TIME = '2025-01-02T03:04:05.678Z';

function eventWithData(
  base64: string | undefined,
  overrides: Partial<PubSubCloudEvent> = {},
): PubSubCloudEvent {
  return {
    specversion: '1.0',
    id: 'm-1',
    source: '//pubsub.googleapis.com/projects/p/topics/t',
    type: PUBSUB_MESSAGE_PUBLISHED,
    time: TIME,
    data: {
      message: { ...(base64 === undefined ? {} : { data: base64 }), messageId: 'm-1', publishTime: TIME },
    },
    ...overrides,
  };
}
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64');

function expectBadRequest(fn: () => unknown, reason: RegExp): GraphmillError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(GraphmillError);
  const err = caught as GraphmillError;
  expect(err.code).toBe('bad_request');
  expect(err.retryable).toBe(false);
  expect(err.message).toMatch(reason);
  return err;
}

describe('toPubSubCloudEvent', () => {
  it('builds the Eventarc binary-mode shape for a Pub/Sub message', () => {
    const event = toPubSubCloudEvent(
      'ingest-requests',
      { documentId: 'doc-1' },
      { idempotencyKey: 'k-1', kind: 'x' },
      { id: '42', time: TIME, projectId: 'proj', subscription: 'projects/proj/subscriptions/trigger-sub' },
    );
    expect(event).toEqual({
      specversion: '1.0',
      id: '42',
      source: '//pubsub.googleapis.com/projects/proj/topics/ingest-requests',
      type: 'google.cloud.pubsub.topic.v1.messagePublished',
      datacontenttype: 'application/json',
      time: TIME,
      data: {
        message: {
          data: Buffer.from('{"documentId":"doc-1"}').toString('base64'),
          attributes: { idempotencyKey: 'k-1', kind: 'x' },
          messageId: '42',
          message_id: '42',
          publishTime: TIME,
          publish_time: TIME,
        },
        subscription: 'projects/proj/subscriptions/trigger-sub',
      },
    });
  });

  it('defaults the project and subscription for local mode and carries an ordering key', () => {
    const event = toPubSubCloudEvent('t', 1, {}, { id: '1', time: TIME, orderingKey: 'batch-1' });
    expect(event.source).toBe('//pubsub.googleapis.com/projects/graphmill-local/topics/t');
    expect(event.data.subscription).toBe('projects/graphmill-local/subscriptions/graphmill-local-t');
    expect(event.data.message.orderingKey).toBe('batch-1');
  });

  it('round-trips through decodePubSubMessage', () => {
    const data = { text: 'héllo 👋', n: 3, nested: { ok: true } };
    const event = toPubSubCloudEvent('t', data, {}, { id: '1', time: TIME });
    const schema = z.object({ text: z.string(), n: z.number(), nested: z.object({ ok: z.boolean() }) });
    expect(decodePubSubMessage(event, schema)).toEqual(data);
  });
});

describe('decodePubSubMessage', () => {
  const schema = z.object({ a: z.string() });

  it.each([
    ['no data', eventWithData(undefined), /no data/],
    ['empty data', eventWithData(''), /no data/],
    ['data that is not base64', eventWithData('not base64!!'), /not base64/],
    ['base64 of non-JSON', eventWithData(Buffer.from('{oops').toString('base64')), /not UTF-8 JSON/],
    [
      'base64 of invalid UTF-8',
      eventWithData(Buffer.from([0xff, 0xfe, 0x7b]).toString('base64')),
      /not UTF-8 JSON/,
    ],
    ['a schema mismatch', eventWithData(b64({ a: 1 })), /invalid message: a: /],
    [
      'another event type',
      eventWithData(b64({ a: 'x' }), { type: 'google.cloud.storage.object.v1.finalized' }),
      /unexpected event type/,
    ],
  ])('rejects %s as a permanent bad_request', (_name, event, reason) => {
    expectBadRequest(() => decodePubSubMessage(event, schema), reason);
  });

  it('does not echo the payload in the error', () => {
    const secretish = 'sk-live-' + 'x'.repeat(40);
    const err = expectBadRequest(
      () => decodePubSubMessage(eventWithData(b64({ a: 7, secret: secretish })), schema),
      /invalid message/,
    );
    expect(JSON.stringify({ message: err.message, details: err.details })).not.toContain(secretish);
    expect(err.details).toMatchObject({ eventId: 'm-1' });
  });
});

describe('ingestRequestSchema', () => {
  it('accepts camelCase', () => {
    const input = {
      documentId: 'doc-1',
      action: 'reprocess_document',
      batchId: 'b-1',
      phase: 'ingest',
      correlationId: 'c-1',
      requestedAt: TIME,
    };
    expect(ingestRequestSchema.parse(input)).toEqual(input);
  });

  it('accepts snake_case as the existing clients send it, defaulting the action', () => {
    expect(
      ingestRequestSchema.parse({
        document_id: 'doc-1',
        batch_id: 'b-1',
        correlation_id: 'c-1',
        requested_at: '2025-01-02T03:04:05+01:00',
      }),
    ).toEqual({
      documentId: 'doc-1',
      action: 'process_document',
      batchId: 'b-1',
      correlationId: 'c-1',
      requestedAt: '2025-01-02T03:04:05+01:00',
    });
  });

  it('leaves absent optional fields absent (not undefined)', () => {
    const parsed = ingestRequestSchema.parse({ documentId: 'd', requestedAt: TIME });
    expect(Object.keys(parsed).sort()).toEqual(['action', 'documentId', 'requestedAt']);
  });

  it.each([
    ['no document id', { requestedAt: TIME }],
    ['disagreeing spellings', { documentId: 'a', document_id: 'b', requestedAt: TIME }],
    ['an unknown action', { documentId: 'a', action: 'explode', requestedAt: TIME }],
    ['an empty document id', { documentId: '', requestedAt: TIME }],
    ['no requestedAt', { documentId: 'a' }],
    ['a requestedAt that is not ISO 8601', { documentId: 'a', requestedAt: 'yesterday' }],
  ])('rejects %s', (_name, input) => {
    expect(ingestRequestSchema.safeParse(input).success).toBe(false);
  });

  it('decodeIngestRequest takes requestedAt from the publish time when the message has none', () => {
    const request = decodeIngestRequest(eventWithData(b64({ document_id: 'doc-9' })));
    expect(request).toEqual({ documentId: 'doc-9', action: 'process_document', requestedAt: TIME });
  });
});

describe('phaseCompletionEventSchema', () => {
  const valid = {
    eventId: 'e-1',
    batchId: 'b-1',
    phase: 'ingest',
    unit: 'doc-1',
    status: 'succeeded',
    occurredAt: TIME,
    correlationId: 'c-1',
  };

  it('accepts a valid event and decodes it from a CloudEvent', () => {
    expect(phaseCompletionEventSchema.parse(valid)).toEqual(valid);
    expect(decodePhaseCompletionEvent(eventWithData(b64(valid)))).toEqual(valid);
  });

  it.each(['eventId', 'batchId', 'phase', 'unit', 'status', 'occurredAt', 'correlationId'])(
    'requires %s',
    (key) => {
      const { [key]: _dropped, ...rest } = valid as Record<string, string>;
      expect(phaseCompletionEventSchema.safeParse(rest).success).toBe(false);
    },
  );

  it('rejects an unknown status', () => {
    expect(phaseCompletionEventSchema.safeParse({ ...valid, status: 'maybe' }).success).toBe(false);
  });
});

describe('eventAgeMs', () => {
  const at = Date.parse(TIME);

  it('measures from the CloudEvent time', () => {
    expect(eventAgeMs(eventWithData(undefined), at + 1500)).toBe(1500);
  });

  it('falls back to the publish time, and clamps clock skew to 0', () => {
    const event = eventWithData(undefined, { time: 'garbage' });
    expect(eventAgeMs(event, at + 10)).toBe(10);
    expect(eventAgeMs(event, at - 5000)).toBe(0);
  });

  it('is undefined without a usable timestamp', () => {
    const event: PubSubCloudEvent = {
      specversion: '1.0',
      id: 'x',
      source: 's',
      type: PUBSUB_MESSAGE_PUBLISHED,
    };
    expect(eventAgeMs(event, at)).toBeUndefined();
  });
});

describe('encoding helpers shared by every publisher', () => {
  it('messageAttributes adds the idempotency key, which a caller attribute cannot override', () => {
    expect(
      messageAttributes({
        idempotencyKey: 'k',
        attributes: { a: '1', [IDEMPOTENCY_KEY_ATTRIBUTE]: 'spoof' },
      }),
    ).toEqual({
      a: '1',
      idempotencyKey: 'k',
    });
  });

  it.each([
    ['an empty idempotency key', { idempotencyKey: ' ' }],
    ['a reserved attribute name', { idempotencyKey: 'k', attributes: { googFoo: 'x' } }],
    ['an oversized attribute value', { idempotencyKey: 'k', attributes: { a: 'x'.repeat(1025) } }],
    ['an empty ordering key', { idempotencyKey: 'k', orderingKey: '' }],
  ])('messageAttributes rejects %s permanently', (_name, options) => {
    expect(() => messageAttributes(options)).toThrow(expect.objectContaining({ retryable: false }));
  });

  it('encodeMessageData rejects what JSON cannot carry', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    for (const bad of [undefined, () => 1, 10n, cyclic]) {
      expect(() => encodeMessageData(bad)).toThrow(
        expect.objectContaining({ code: 'internal', retryable: false }),
      );
    }
    expect(encodeMessageData({ a: 1 }).toString('utf8')).toBe('{"a":1}');
  });

  it('pubSubMessageMeta exposes ids and the idempotency key', () => {
    const event = toPubSubCloudEvent('t', {}, { idempotencyKey: 'k-7' }, { id: '9', time: TIME });
    expect(pubSubMessageMeta(event)).toEqual({
      messageId: '9',
      publishTime: TIME,
      attributes: { idempotencyKey: 'k-7' },
      idempotencyKey: 'k-7',
      subscription: 'projects/graphmill-local/subscriptions/graphmill-local-t',
    });
  });
});
