/**
 * Alerts to a Slack incoming webhook, as Block Kit messages.
 *
 * The contract of the Alerter port, and how this adapter keeps it:
 * - never throws into the caller: every failure (secret unreadable, bad URL, Slack down) ends in a log
 *   entry carrying the whole alert, so an alert that cannot reach Slack is still not silent;
 * - never holds the caller up for long: `send` resolves as soon as the webhook answered or `maxWaitMs`
 *   (default 2 s) passed, whichever comes first. The delivery carries on in the background, bounded by
 *   `deliveryTimeoutMs` (an AbortController cancels the secret read, the fetch and any backoff sleep).
 *   `flush()` awaits what is still in flight: call it on shutdown (and in tests). On Cloud Run, CPU may be
 *   throttled after the response, which is why the caller waits up to `maxWaitMs` first;
 * - retries 429 (waiting at least its `Retry-After`), 5xx and transient network errors with exponential
 *   backoff and jitter (RESILIENCE_PRESETS.slack, injected clock/sleep/random), never other 4xx; a
 *   circuit breaker stops piling alerts onto a Slack outage;
 * - deduplicates: an alert with the same key (its `dedupeKey`, else function + error type + title +
 *   document + batch) within `dedupeWindowMs` (default 5 min) is suppressed and counted; the next one
 *   sent after the window says "(N similar suppressed)".
 *
 * The webhook URL is a secret: it is read through the injected `webhookUrl()` (Secret Manager on GCP) per
 * delivery, registered for redaction, and never logged: failures are logged by code, never by message.
 */
import { configInvalid } from '../../errors';
import type { Logger } from '../../logging';
import { errorCodeOf, isRetryable } from '../../resilience/classify';
import {
  RESILIENCE_PRESETS,
  makeBreaker,
  makeRetry,
  wrap,
  type BreakerTuning,
  type Policy,
  type RetryTuning,
} from '../../resilience/policies';
import { realSleep, systemClock, systemRandom } from '../../resilience/time';
import type { Clock, Random, Sleep } from '../../ports/clock';
import { secretRegistry, type SecretRegistry } from '../../secrets/redaction';
import { alertLogFields } from '../../alerts/log';
import type { Alert, AlertSeverity } from '../../alerts/types';
import type { Alerter } from '../../ports/alerter';

export interface SlackAlerterOptions {
  /** Reads the webhook URL (Secret Manager on GCP, env locally). Called per delivery; cache it upstream. */
  readonly webhookUrl: () => Promise<string>;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly sleep?: Sleep;
  readonly random?: Random;
  /** Default: the global fetch (undici). */
  readonly fetch?: typeof fetch;
  /** Default RESILIENCE_PRESETS.slack.retry (4 attempts, 1 s doubling to 10 s, 30 s in all). */
  readonly retry?: RetryTuning;
  /** Default RESILIENCE_PRESETS.slack.breaker; `false` for none. */
  readonly breaker?: BreakerTuning | false;
  /** Longest `send` keeps its caller waiting. Default 2000 ms. */
  readonly maxWaitMs?: number;
  /** One HTTP attempt. Default 5000 ms. */
  readonly attemptTimeoutMs?: number;
  /** A whole delivery, retries included (real time). Default 30 000 ms. */
  readonly deliveryTimeoutMs?: number;
  /** Default 5 minutes. */
  readonly dedupeWindowMs?: number;
  /** Characters of the stack shown. Default 1500. */
  readonly stackLimit?: number;
  /** Deliveries in flight at once; beyond that alerts go to the log only. Default 20. */
  readonly maxInFlight?: number;
  /** Accept `http://127.0.0.1` / `http://[::1]` webhooks (tests). Default false: https only. */
  readonly allowInsecureLoopback?: boolean;
  /** Shown under each message (`graphmill prod europe-west1`). */
  readonly source?: string;
  readonly registry?: SecretRegistry;
}

/** A webhook answer other than 2xx. Carries the headers so `retryAfterMs` can read `Retry-After`. */
export class SlackWebhookError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Headers,
    /** Slack's error code from the body (`invalid_payload`, `channel_not_found`, ...), when it is one. */
    readonly slackError: string | undefined,
  ) {
    super(`Slack webhook answered ${status}${slackError === undefined ? '' : ` (${slackError})`}`);
    this.name = 'SlackWebhookError';
  }
}

/** 429 and 5xx (and transient network failures, attempt timeouts) are worth another attempt; other 4xx not. */
export function isRetryableSlackError(err: unknown): boolean {
  if (err instanceof SlackWebhookError) return err.status === 429 || (err.status >= 500 && err.status <= 599);
  return isRetryable(err);
}

interface DedupeEntry {
  windowStart: number;
  suppressed: number;
}

const MAX_DEDUPE_ENTRIES = 1000;
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '[::1]']);
const MAX_RESPONSE_BYTES = 4096;

export class SlackAlerter implements Alerter {
  private readonly clock: Clock;
  private readonly fetch: typeof fetch;
  private readonly policy: Policy;
  private readonly registry: SecretRegistry;
  private readonly maxWaitMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly deliveryTimeoutMs: number;
  private readonly dedupeWindowMs: number;
  private readonly stackLimit: number;
  private readonly maxInFlight: number;
  private readonly dedupe = new Map<string, DedupeEntry>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: SlackAlerterOptions) {
    this.clock = options.clock ?? systemClock;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.registry = options.registry ?? secretRegistry;
    this.maxWaitMs = nonNegative('maxWaitMs', options.maxWaitMs ?? 2000);
    this.attemptTimeoutMs = positive('attemptTimeoutMs', options.attemptTimeoutMs ?? 5000);
    this.deliveryTimeoutMs = positive('deliveryTimeoutMs', options.deliveryTimeoutMs ?? 30_000);
    this.dedupeWindowMs = nonNegative('dedupeWindowMs', options.dedupeWindowMs ?? 300_000);
    this.stackLimit = positive('stackLimit', options.stackLimit ?? 1500);
    this.maxInFlight = positive('maxInFlight', options.maxInFlight ?? 20);

    const retry = makeRetry({
      name: 'slack',
      ...(options.retry ?? RESILIENCE_PRESETS.slack.retry),
      clock: this.clock,
      sleep: options.sleep ?? realSleep,
      random: options.random ?? systemRandom,
      logger: options.logger,
      isRetryable: isRetryableSlackError,
    });
    const breakerTuning = options.breaker ?? RESILIENCE_PRESETS.slack.breaker;
    this.policy =
      breakerTuning === false
        ? retry
        : wrap(
            retry,
            makeBreaker({
              name: 'slack',
              ...breakerTuning,
              clock: this.clock,
              logger: options.logger,
              isRetryable: isRetryableSlackError,
            }),
          );
  }

  /** Resolves once Slack accepted the alert, it was dropped, or `maxWaitMs` passed. Never rejects. */
  send(alert: Alert): Promise<void> {
    try {
      const key = dedupeKeyOf(alert);
      const admitted = this.admit(key, this.clock());
      if (admitted === undefined) {
        this.options.logger.debug('alert suppressed (duplicate within the dedup window)', {
          title: alert.title,
          dedupeKey: key,
        });
        return Promise.resolve();
      }
      if (this.inFlight.size >= this.maxInFlight) {
        this.options.logger.error(
          'alert not sent to Slack: too many deliveries in flight',
          alertLogFields(alert, this.registry),
        );
        return Promise.resolve();
      }
      const message = buildSlackMessage(this.redacted(alert), {
        suppressed: admitted.suppressedBefore,
        stackLimit: this.stackLimit,
        ...(this.options.source === undefined ? {} : { source: this.options.source }),
      });
      const delivery = this.startDelivery(JSON.stringify(message), alert, admitted.entry);
      return waitAtMost(delivery, this.maxWaitMs);
    } catch (err) {
      this.safeLog(() =>
        this.options.logger.error('alert could not be sent', {
          ...alertLogFields(alert, this.registry),
          errorCode: errorCodeOf(err),
        }),
      );
      return Promise.resolve();
    }
  }

  /** Waits for every delivery in flight (each is bounded by `deliveryTimeoutMs`). Never rejects. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Decides whether an alert goes out; undefined means suppressed. */
  private admit(key: string, now: number): { entry: DedupeEntry; suppressedBefore: number } | undefined {
    const existing = this.dedupe.get(key);
    if (existing !== undefined && now - existing.windowStart < this.dedupeWindowMs) {
      existing.suppressed++;
      return undefined;
    }
    const suppressedBefore = existing?.suppressed ?? 0;
    const entry: DedupeEntry = { windowStart: now, suppressed: 0 };
    this.dedupe.delete(key); // re-inserted last: the map stays ordered oldest window first
    this.dedupe.set(key, entry);
    this.prune(now);
    return { entry, suppressedBefore };
  }

  private prune(now: number): void {
    if (this.dedupe.size <= MAX_DEDUPE_ENTRIES) return;
    for (const [key, entry] of this.dedupe) {
      if (now - entry.windowStart >= this.dedupeWindowMs) this.dedupe.delete(key);
    }
    // Still too many live windows: the oldest go (their suppressed counts are lost, nothing else).
    for (const key of this.dedupe.keys()) {
      if (this.dedupe.size <= MAX_DEDUPE_ENTRIES) break;
      this.dedupe.delete(key);
    }
  }

  private startDelivery(body: string, alert: Alert, entry: DedupeEntry): Promise<void> {
    const controller = new AbortController();
    // A deadline on real I/O (secret read, fetch, backoff): stays a real timer, which a fake clock cannot fire.
    const deadline = setTimeout(
      () => controller.abort(new DOMException('Slack alert delivery timed out', 'TimeoutError')),
      this.deliveryTimeoutMs,
    );
    deadline.unref();
    const delivery = this.deliver(body, controller.signal)
      .then(
        () =>
          this.safeLog(() =>
            this.options.logger.info('alert sent to Slack', {
              title: alert.title,
              alertSeverity: alert.severity,
            }),
          ),
        (err: unknown) => {
          // Not delivered: let the next identical alert through instead of suppressing it for a window.
          entry.windowStart = Number.NEGATIVE_INFINITY;
          this.safeLog(() =>
            this.options.logger.error('alert delivery to Slack failed', {
              ...alertLogFields(alert, this.registry),
              errorCode: errorCodeOf(err),
              ...(err instanceof SlackWebhookError
                ? {
                    httpStatus: err.status,
                    ...(err.slackError === undefined ? {} : { slackError: err.slackError }),
                  }
                : {}),
            }),
          );
        },
      )
      .finally(() => {
        clearTimeout(deadline);
        this.inFlight.delete(delivery);
      });
    this.inFlight.add(delivery);
    return delivery;
  }

  private async deliver(body: string, signal: AbortSignal): Promise<void> {
    const raw = await abortable(this.options.webhookUrl(), signal);
    this.registry.remember(raw);
    const url = checkWebhookUrl(raw, this.options.allowInsecureLoopback === true);
    await this.policy.execute(async (policySignal) => {
      // Per-attempt deadline on a real fetch: a real timer, as above.
      const attemptSignal = AbortSignal.any([policySignal, AbortSignal.timeout(this.attemptTimeoutMs)]);
      const response = await this.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body,
        redirect: 'error',
        signal: attemptSignal,
      });
      const text = await readSmall(response);
      if (!response.ok) {
        const code = text.trim();
        throw new SlackWebhookError(
          response.status,
          response.headers,
          /^[a-z0-9_]{1,64}$/.test(code) ? code : undefined,
        );
      }
    }, signal);
  }

  private redacted(alert: Alert): Alert {
    const r = (s: string): string => this.registry.redact(s);
    return {
      ...alert,
      title: r(alert.title),
      functionName: r(alert.functionName),
      errorType: r(alert.errorType),
      message: r(alert.message),
      ...(alert.stack === undefined ? {} : { stack: r(alert.stack) }),
    };
  }

  private safeLog(write: () => void): void {
    try {
      write();
    } catch {
      // Logging must not turn into a rejection of send/flush.
    }
  }
}

/** The dedup key: the alert's own, else what makes two alerts "the same problem". */
export function dedupeKeyOf(alert: Alert): string {
  if (alert.dedupeKey !== undefined && alert.dedupeKey !== '') return alert.dedupeKey;
  return [alert.functionName, alert.errorType, alert.title, alert.documentId ?? '', alert.batchId ?? ''].join(
    '|',
  );
}

/** Only https, no credentials in the URL; plain http only to loopback when explicitly allowed (tests). */
export function checkWebhookUrl(raw: string, allowInsecureLoopback: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    // The parser's message would quote the URL: say nothing about it.
    throw configInvalid('The Slack webhook URL is not a valid URL');
  }
  if (url.username !== '' || url.password !== '') {
    throw configInvalid('The Slack webhook URL must not carry credentials');
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && allowInsecureLoopback && LOOPBACK_HOSTS.has(url.hostname)) return url;
  throw configInvalid('The Slack webhook URL must use https');
}

// ---------------------------------------------------------------------------------------------------------
// The message

export interface SlackTextObject {
  readonly type: 'plain_text' | 'mrkdwn';
  readonly text: string;
  readonly emoji?: boolean;
}
export type SlackBlock =
  | { readonly type: 'header'; readonly text: SlackTextObject }
  | {
      readonly type: 'section';
      readonly text?: SlackTextObject;
      readonly fields?: readonly SlackTextObject[];
    }
  | { readonly type: 'context'; readonly elements: readonly SlackTextObject[] };
export interface SlackMessage {
  /** Fallback for notifications and clients without Block Kit. */
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

const SEVERITY_LABEL: Record<AlertSeverity, string> = {
  critical: ':rotating_light: CRITICAL',
  error: ':red_circle: ERROR',
  warning: ':warning: WARNING',
};

// Block Kit limits: header text 150 chars, section text 3000, field text 2000, 10 fields.
const HEADER_LIMIT = 150;
const SECTION_LIMIT = 3000;
const FIELD_LIMIT = 2000;
const TEXT_LIMIT = 3000;

export interface SlackMessageOptions {
  /** Identical alerts suppressed since the previous one was sent. */
  readonly suppressed?: number;
  readonly stackLimit?: number;
  readonly source?: string;
}

export function buildSlackMessage(alert: Alert, options: SlackMessageOptions = {}): SlackMessage {
  const suppressed = options.suppressed ?? 0;
  const stackLimit = options.stackLimit ?? 1500;
  const label = SEVERITY_LABEL[alert.severity] ?? alert.severity.toUpperCase();
  const suppressedNote = suppressed > 0 ? ` (${suppressed} similar suppressed)` : '';

  const fields: SlackTextObject[] = [
    field('Function', alert.functionName),
    field('Error type', alert.errorType),
  ];
  if (alert.documentId !== undefined) fields.push(field('Document', alert.documentId));
  if (alert.batchId !== undefined) fields.push(field('Batch', alert.batchId));
  if (alert.correlationId !== undefined) fields.push(field('Correlation id', alert.correlationId));

  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: truncate(`${label}: ${alert.title}`, HEADER_LIMIT), emoji: true },
    },
    { type: 'section', fields },
    {
      type: 'section',
      text: mrkdwn(`*Message*\n${truncate(escapeMrkdwn(alert.message), SECTION_LIMIT - 20)}`),
    },
  ];
  if (alert.stack !== undefined && alert.stack.trim() !== '') {
    const stack = escapeMrkdwn(truncate(alert.stack, stackLimit)).replace(/```/g, '`\u200b``');
    blocks.push({ type: 'section', text: mrkdwn(truncate(`*Stack*\n\`\`\`${stack}\`\`\``, SECTION_LIMIT)) });
  }
  const context = [suppressedNote.trim(), options.source ?? ''].filter((s) => s !== '');
  if (context.length > 0) {
    blocks.push({ type: 'context', elements: [mrkdwn(escapeMrkdwn(context.join(' · ')))] });
  }

  const where = [alert.functionName, alert.errorType, alert.documentId, alert.batchId].filter(
    (s): s is string => s !== undefined,
  );
  const text = truncate(
    escapeMrkdwn(`[${alert.severity.toUpperCase()}] ${alert.title} (${where.join(', ')})${suppressedNote}`),
    TEXT_LIMIT,
  );
  return { text, blocks };
}

function field(name: string, value: string): SlackTextObject {
  return mrkdwn(`*${name}*\n${truncate(escapeMrkdwn(value), FIELD_LIMIT - name.length - 4)}`);
}

function mrkdwn(text: string): SlackTextObject {
  return { type: 'mrkdwn', text };
}

/** Slack's required escaping for mrkdwn text (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** At most `limit` characters, marked when cut; never splits a surrogate pair. */
export function truncate(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const marker = '… (truncated)';
  let end = Math.max(0, limit - marker.length);
  const code = text.charCodeAt(end - 1);
  if (end > 0 && code >= 0xd800 && code <= 0xdbff) end--;
  return text.slice(0, end) + marker;
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** Resolves with `promise` or `maxWaitMs` later, whichever is first. `promise` must not reject. */
function waitAtMost(promise: Promise<void>, maxWaitMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    // Bounds a flush that waits on real deliveries: a real timer, as for the delivery deadline.
    const timer = setTimeout(resolve, maxWaitMs);
    timer.unref();
    void promise.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** `promise`, or a rejection as soon as `signal` aborts (the promise itself cannot be cancelled). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/** The response body as text, at most MAX_RESPONSE_BYTES of it (Slack answers `ok` or an error code). */
async function readSmall(response: Response): Promise<string> {
  if (response.body === null) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_RESPONSE_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    if (size >= MAX_RESPONSE_BYTES) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_RESPONSE_BYTES);
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`SlackAlerter: ${name} must be > 0, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0)
    throw new RangeError(`SlackAlerter: ${name} must be >= 0, got ${value}`);
  return value;
}
