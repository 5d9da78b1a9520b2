/**
 * SlackAlerter against a real HTTP server on 127.0.0.1 standing in for the webhook. Only loopback is ever
 * contacted: the one test with a non-loopback URL injects a fetch that records and never connects.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  SlackAlerter,
  buildSlackMessage,
  type SlackAlerterOptions,
  type SlackMessage,
} from '../../../shared/adapters/slack/alerter';
import type { Alert } from '../../../shared/alerts/types';
import type { LogFields, Logger } from '../../../shared/logging';
import { fixedRandom, makeFakeTime } from '../../../shared/resilience/testing';
import { SecretRegistry } from '../../../shared/secrets/redaction';

// ---------------------------------------------------------------------------------------------------------
// The stand-in webhook

interface Received {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: SlackMessage;
}
type Responder = (req: IncomingMessage, res: ServerResponse, n: number) => void;

const SECRET_PATH_PART = 'XXwebhookSecretTokenXX';
let server: Server;
let baseUrl: string;
let received: Received[] = [];
let responder: Responder = (_req, res) => res.end('ok');

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: JSON.parse(raw === '' ? 'null' : raw) as SlackMessage,
      });
      // No keep-alive: a pooled socket closed between tests must not turn into a spurious retry.
      res.setHeader('connection', 'close');
      responder(req, res, received.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  received = [];
  responder = (_req, res) => res.end('ok');
  server.closeAllConnections();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  // Every log line written by any alerter in this file, checked once more for the webhook secret.
  expect(JSON.stringify(allLogs)).not.toContain(SECRET_PATH_PART);
});

// ---------------------------------------------------------------------------------------------------------
// Helpers

interface LogEntry {
  readonly level: string;
  readonly message: string;
  readonly fields: LogFields;
}
const allLogs: LogEntry[] = [];

function capturingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const make = (base: LogFields): Logger => {
    const at =
      (level: string) =>
      (message: string, fields: LogFields = {}): void => {
        const entry = { level, message, fields: { ...base, ...fields } };
        entries.push(entry);
        allLogs.push(entry);
      };
    return {
      debug: at('debug'),
      info: at('info'),
      notice: at('notice'),
      warn: at('warn'),
      error: at('error'),
      critical: at('critical'),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return Object.assign(make({}), { entries });
}

const webhookUrl = (): string => `${baseUrl}/services/T000/B000/${SECRET_PATH_PART}`;

function makeAlerter(overrides: Partial<SlackAlerterOptions> = {}) {
  const time = makeFakeTime(Date.parse('2025-03-01T12:00:00Z'));
  const logger = capturingLogger();
  const alerter = new SlackAlerter({
    webhookUrl: () => Promise.resolve(webhookUrl()),
    logger,
    clock: time.clock,
    sleep: time.sleep,
    random: fixedRandom(0.5),
    allowInsecureLoopback: true,
    registry: new SecretRegistry(),
    breaker: false,
    ...overrides,
  });
  return { alerter, time, logger };
}

const baseAlert: Alert = {
  severity: 'critical',
  title: 'Completion tracking failed in both stores',
  functionName: 'phaseTransition',
  errorType: 'dependency_unavailable',
  message: 'Firestore and BigQuery rejected the write <both> & more',
  documentId: 'doc-42',
  batchId: 'batch-7',
  correlationId: 'corr-123',
};

const fieldTexts = (body: SlackMessage): string[] =>
  body.blocks.flatMap((b) => (b.type === 'section' ? (b.fields ?? []).map((f) => f.text) : []));
const blockTexts = (body: SlackMessage): string[] =>
  body.blocks.flatMap((b) => (b.type === 'section' && b.text !== undefined ? [b.text.text] : []));

// ---------------------------------------------------------------------------------------------------------

describe('SlackAlerter against a local webhook', () => {
  it('posts a Block Kit message with every field, an escaped message and a truncated stack', async () => {
    const { alerter, logger } = makeAlerter({ source: 'graphmill test' });
    const stack = `Error: boom\n${'    at frame (file.ts:1:1)\n'.repeat(200)}    at THE_LAST_FRAME`;
    await alerter.send({ ...baseAlert, stack });
    await alerter.flush();

    expect(received).toHaveLength(1);
    const [request] = received as [Received];
    expect(request.method).toBe('POST');
    expect(request.path).toBe(`/services/T000/B000/${SECRET_PATH_PART}`);
    expect(request.contentType).toMatch(/^application\/json/);

    const { body } = request;
    expect(body.text).toContain('[CRITICAL] Completion tracking failed in both stores');
    expect(body.blocks[0]).toEqual({
      type: 'header',
      text: {
        type: 'plain_text',
        text: ':rotating_light: CRITICAL: Completion tracking failed in both stores',
        emoji: true,
      },
    });
    expect(fieldTexts(body)).toEqual([
      '*Function*\nphaseTransition',
      '*Error type*\ndependency_unavailable',
      '*Document*\ndoc-42',
      '*Batch*\nbatch-7',
      '*Correlation id*\ncorr-123',
    ]);
    const texts = blockTexts(body);
    expect(texts).toContain('*Message*\nFirestore and BigQuery rejected the write &lt;both&gt; &amp; more');
    const stackBlock = texts.find((t) => t.startsWith('*Stack*')) as string;
    expect(stackBlock.startsWith('*Stack*\n```Error: boom')).toBe(true);
    expect(stackBlock.endsWith('… (truncated)```')).toBe(true);
    expect(stackBlock).not.toContain('THE_LAST_FRAME');
    expect(stackBlock.length).toBeLessThanOrEqual('*Stack*\n``````'.length + 1500);
    expect(body.blocks.at(-1)).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'graphmill test' }],
    });
    expect(logger.entries.some((e) => e.message === 'alert sent to Slack')).toBe(true);
  });

  it('on 429 waits the Retry-After delay (injected sleep), then the second attempt succeeds', async () => {
    responder = (_req, res, n) => {
      if (n === 1) {
        res.writeHead(429, { 'retry-after': '3' });
        res.end('rate_limited');
      } else res.end('ok');
    };
    const { alerter, time, logger } = makeAlerter();
    await alerter.send(baseAlert);
    await alerter.flush();

    expect(received).toHaveLength(2);
    expect(received[1]?.body).toEqual(received[0]?.body);
    // random 0.5 would give 500 ms of jittered backoff: the server's 3 s wins.
    expect(time.sleeps).toEqual([3000]);
    expect(logger.entries.map((e) => e.message)).toContain('alert sent to Slack');
    expect(logger.entries.some((e) => e.message.includes('failed'))).toBe(false);
  });

  it('retries 500 with backoff, gives up within the attempt bound, and never throws', async () => {
    responder = (_req, res) => {
      res.writeHead(500);
      res.end('internal_error');
    };
    const { alerter, time, logger } = makeAlerter();
    await expect(alerter.send(baseAlert)).resolves.toBeUndefined();
    await alerter.flush();

    expect(received).toHaveLength(4); // RESILIENCE_PRESETS.slack: 4 attempts
    expect(time.sleeps).toEqual([500, 1000, 2000]); // full jitter at 0.5 of 1 s, 2 s, 4 s
    const failure = logger.entries.find((e) => e.message === 'alert delivery to Slack failed');
    expect(failure?.level).toBe('error');
    // The alert itself still reaches the log: not silent.
    expect(failure?.fields).toMatchObject({
      httpStatus: 500,
      slackError: 'internal_error',
      title: baseAlert.title,
      documentId: 'doc-42',
      errorMessage: baseAlert.message,
    });
  });

  it('does not retry 400', async () => {
    responder = (_req, res) => {
      res.writeHead(400);
      res.end('invalid_payload');
    };
    const { alerter, time, logger } = makeAlerter();
    await alerter.send(baseAlert);
    await alerter.flush();
    expect(received).toHaveLength(1);
    expect(time.sleeps).toEqual([]);
    expect(logger.entries.find((e) => e.message === 'alert delivery to Slack failed')?.fields).toMatchObject({
      httpStatus: 400,
      slackError: 'invalid_payload',
    });
  });

  it('deduplicates identical alerts within the window and reports the suppressed count after it', async () => {
    const { alerter, time } = makeAlerter();
    await alerter.send(baseAlert);
    await alerter.send({ ...baseAlert, message: 'same problem, other words' });
    await alerter.send(baseAlert);
    await alerter.flush();
    expect(received).toHaveLength(1);

    time.advance(4 * 60_000);
    await alerter.send(baseAlert);
    await alerter.flush();
    expect(received).toHaveLength(1);

    time.advance(60_000); // 5 minutes after the first
    await alerter.send(baseAlert);
    await alerter.flush();
    expect(received).toHaveLength(2);
    expect(received[1]?.body.text).toContain('(3 similar suppressed)');
    expect(received[1]?.body.blocks.at(-1)).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: '(3 similar suppressed)' }],
    });
  });

  it('treats alerts about another document, or with another dedupeKey, as different', async () => {
    const { alerter } = makeAlerter();
    await alerter.send(baseAlert);
    await alerter.send({ ...baseAlert, documentId: 'doc-43' });
    await alerter.send({ ...baseAlert, dedupeKey: 'explicit' });
    await alerter.send({ ...baseAlert, documentId: 'doc-44', dedupeKey: 'explicit' });
    await alerter.flush();
    expect(received).toHaveLength(3);
  });

  it('lets the next identical alert through when the previous one could not be delivered', async () => {
    responder = (_req, res, n) => {
      res.writeHead(n === 1 ? 400 : 200);
      res.end(n === 1 ? 'invalid_payload' : 'ok');
    };
    const { alerter } = makeAlerter();
    await alerter.send(baseAlert);
    await alerter.flush();
    await alerter.send(baseAlert);
    await alerter.flush();
    expect(received).toHaveLength(2);
  });

  it('does not hold the caller up when the webhook hangs; flush ends after the delivery timeout', async () => {
    responder = () => undefined; // never answers
    const { alerter, logger } = makeAlerter({ maxWaitMs: 150, deliveryTimeoutMs: 600 });

    const started = performance.now();
    await alerter.send(baseAlert);
    const sendMs = performance.now() - started;
    expect(received).toHaveLength(1);
    expect(sendMs).toBeGreaterThanOrEqual(140);
    expect(sendMs).toBeLessThan(500);

    await alerter.flush();
    const flushMs = performance.now() - started;
    expect(flushMs).toBeGreaterThanOrEqual(550);
    expect(flushMs).toBeLessThan(2000);
    expect(logger.entries.find((e) => e.message === 'alert delivery to Slack failed')?.fields).toMatchObject({
      errorCode: 'TimeoutError',
    });
  });

  it('bounds a webhook secret read that hangs by the same delivery timeout', async () => {
    const { alerter, logger } = makeAlerter({
      webhookUrl: () => new Promise<string>(() => undefined),
      maxWaitMs: 50,
      deliveryTimeoutMs: 200,
    });
    const started = performance.now();
    await alerter.send(baseAlert);
    expect(performance.now() - started).toBeLessThan(400);
    await alerter.flush();
    expect(performance.now() - started).toBeLessThan(1500);
    expect(received).toHaveLength(0);
    expect(logger.entries.some((e) => e.message === 'alert delivery to Slack failed')).toBe(true);
  });

  it('survives a webhook secret that cannot be read', async () => {
    const { alerter, logger } = makeAlerter({
      webhookUrl: () => Promise.reject(new Error('secret manager down')),
    });
    await expect(alerter.send(baseAlert)).resolves.toBeUndefined();
    await alerter.flush();
    expect(logger.entries.find((e) => e.message === 'alert delivery to Slack failed')?.level).toBe('error');
  });

  it('refuses a non-https webhook without connecting anywhere', async () => {
    const calls: string[] = [];
    const recordingFetch = ((input: string | URL | Request) => {
      calls.push(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      return Promise.reject(new Error('must not be called'));
    }) as typeof fetch;
    for (const [url, allowInsecureLoopback] of [
      [`http://hooks.example.com/services/${SECRET_PATH_PART}`, true],
      [`http://127.0.0.1:9/services/${SECRET_PATH_PART}`, false],
      [`ftp://127.0.0.1/services/${SECRET_PATH_PART}`, true],
      [`https://user:${SECRET_PATH_PART}@hooks.example.com/x`, true],
      [`not a url ${SECRET_PATH_PART}`, true],
    ] as const) {
      const { alerter, logger } = makeAlerter({
        webhookUrl: () => Promise.resolve(url),
        fetch: recordingFetch,
        allowInsecureLoopback,
      });
      await alerter.send({ ...baseAlert, dedupeKey: url });
      await alerter.flush();
      expect(
        logger.entries.find((e) => e.message === 'alert delivery to Slack failed')?.fields,
      ).toMatchObject({
        errorCode: 'config_invalid',
      });
    }
    expect(calls).toEqual([]);
  });

  it('never logs the webhook URL, even when the connection fails', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const { alerter, logger } = makeAlerter({
      webhookUrl: () => Promise.resolve(`http://127.0.0.1:${port}/services/T/B/${SECRET_PATH_PART}`),
      retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1, maxTotalMs: 100 },
    });
    await alerter.send(baseAlert);
    await alerter.flush();
    const failure = logger.entries.find((e) => e.message === 'alert delivery to Slack failed');
    expect(failure?.fields).toMatchObject({ errorCode: 'ECONNREFUSED' });
    expect(JSON.stringify(logger.entries)).not.toContain(SECRET_PATH_PART);
  });

  it('masks known secret values in what it sends', async () => {
    const registry = new SecretRegistry();
    registry.remember('hunter2-password-value');
    const { alerter } = makeAlerter({ registry });
    await alerter.send({ ...baseAlert, message: 'auth failed with hunter2-password-value' });
    await alerter.flush();
    expect(JSON.stringify(received[0]?.body)).not.toContain('hunter2-password-value');
    expect(JSON.stringify(received[0]?.body)).toContain('[REDACTED]');
  });

  it('opens the breaker after repeated failures and stops calling Slack', async () => {
    responder = (_req, res) => {
      res.writeHead(503);
      res.end();
    };
    const { alerter } = makeAlerter({
      breaker: { failureThreshold: 2, halfOpenAfterMs: 60_000 },
      retry: { maxAttempts: 1, initialDelayMs: 1, maxDelayMs: 1, maxTotalMs: 1 },
    });
    for (const documentId of ['a', 'b', 'c', 'd']) await alerter.send({ ...baseAlert, documentId });
    await alerter.flush();
    expect(received).toHaveLength(2);
  });
});

describe('buildSlackMessage', () => {
  it('keeps to Block Kit limits and leaves out absent ids', () => {
    const message = buildSlackMessage({
      severity: 'warning',
      title: 't'.repeat(500),
      functionName: 'ingestEvent',
      errorType: 'TypeError',
      message: 'm'.repeat(10_000),
    });
    const header = message.blocks[0] as { text: { text: string } };
    expect(header.text.text.length).toBeLessThanOrEqual(150);
    expect(header.text.text.startsWith(':warning: WARNING: ttt')).toBe(true);
    for (const block of message.blocks) {
      if ('text' in block && block.text) expect(block.text.text.length).toBeLessThanOrEqual(3000);
    }
    expect(fieldTexts(message)).toEqual(['*Function*\ningestEvent', '*Error type*\nTypeError']);
    expect(message.blocks.some((b) => b.type === 'context')).toBe(false);
  });
});
