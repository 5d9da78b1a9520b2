/**
 * Keeps secret values out of logs. Every secret store remembers each value it hands out; the logger (and
 * anything else that emits text: problem+json details, alerts) passes text through `redact` and fields
 * through `redactFields`. This is the one piece of process-wide state in the secrets module, on purpose:
 * a value read through any store must be masked in every logger of the instance.
 */

export const REDACTED = '[REDACTED]';

/** Values shorter than this are not remembered: masking "true" or "admin" everywhere would shred logs. */
export const MIN_SECRET_LENGTH = 6;

/** Keys whose values are masked whatever they contain. */
export const SENSITIVE_KEY =
  /pass(word)?|secret|token|api[-_]?key|authorization|webhook|credential|private[-_]?key/i;

/** redactFields stops descending here (log fields are shallow; this only guards pathological input). */
const MAX_DEPTH = 12;

export class SecretRegistry {
  private readonly values = new Set<string>();
  private pattern: RegExp | undefined;

  /** Remembers `value` (and its URL- and JSON-escaped forms, as it may appear inside logged URLs or JSON). */
  remember(value: string): void {
    if (value.length < MIN_SECRET_LENGTH) return;
    for (const form of [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]) {
      if (!this.values.has(form)) {
        this.values.add(form);
        this.pattern = undefined;
      }
    }
  }

  /** Number of remembered forms; 0 means redact() is a no-op. */
  get size(): number {
    return this.values.size;
  }

  /** Forgets everything (tests). */
  clear(): void {
    this.values.clear();
    this.pattern = undefined;
  }

  contains(text: string): boolean {
    if (this.values.size === 0 || text.length < MIN_SECRET_LENGTH) return false;
    const pattern = this.compiled();
    pattern.lastIndex = 0;
    return pattern.test(text);
  }

  /**
   * Replaces every occurrence of every remembered value with [REDACTED], and the credentials URLs carry
   * in free text (userinfo, signature- and token-like query values; see `redactUrlsInText`).
   */
  redact(text: string): string {
    const masked = redactUrlsInText(text);
    if (this.values.size === 0 || masked.length < MIN_SECRET_LENGTH) return masked;
    return masked.replace(this.compiled(), REDACTED);
  }

  /**
   * A deep copy of `value` for logging: values under sensitive keys become [REDACTED] (numbers and
   * booleans excepted: `tokenCount: 812` is not a secret), strings have remembered values masked, Errors
   * become `{ name, message, stack, ...own fields }` with the same treatment, cycles become "[Circular]".
   * Non-plain objects (Date, Buffer, class instances) are kept as they are.
   */
  redactFields<T>(value: T): T {
    return this.copy(value, 0, new WeakSet()) as T;
  }

  private copy(value: unknown, depth: number, seen: WeakSet<object>): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (typeof value !== 'object' || value === null) return value;
    if (seen.has(value)) return '[Circular]';
    if (depth >= MAX_DEPTH) return '[Truncated]';
    seen.add(value);
    try {
      if (Array.isArray(value)) return value.map((item: unknown) => this.copy(item, depth + 1, seen));
      if (value instanceof Error) {
        const own: Record<string, unknown> = { name: value.name, message: value.message, stack: value.stack };
        for (const [k, v] of Object.entries(value)) own[k] = v;
        if (value.cause !== undefined) own['cause'] = value.cause;
        return this.copyEntries(own, depth, seen);
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return value;
      return this.copyEntries(value as Record<string, unknown>, depth, seen);
    } finally {
      seen.delete(value);
    }
  }

  private copyEntries(
    obj: Record<string, unknown>,
    depth: number,
    seen: WeakSet<object>,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(obj)) {
      out[key] = SENSITIVE_KEY.test(key) && isMaskable(v) ? REDACTED : this.copy(v, depth + 1, seen);
    }
    return out;
  }

  private compiled(): RegExp {
    if (this.pattern === undefined) {
      // Longest first, so a secret that contains another is masked whole.
      const alternatives = [...this.values].sort((a, b) => b.length - a.length).map(escapeRegExp);
      this.pattern = new RegExp(alternatives.join('|'), 'g');
    }
    return this.pattern;
  }
}

const isMaskable = (v: unknown): boolean =>
  v !== undefined && v !== null && typeof v !== 'number' && typeof v !== 'boolean';

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A URL as it may be shown (logs, errors, problem+json, CLI output, the graph): userinfo removed, every
 * query value and the fragment replaced by [REDACTED], the parameter names kept. A signed URL (GCS V4,
 * S3, SAS) carries its credentials in the query, and a URL's userinfo is a password. Whoever fetches the
 * document needs the URL whole; nobody who reads about it does. Text that is not a URL gets the
 * free-text treatment.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return redactUrlsInText(url);
  }
  const query =
    parsed.search === ''
      ? ''
      : `?${parsed.search
          .slice(1)
          .split('&')
          .map((part) => {
            const eq = part.indexOf('=');
            return eq === -1 ? (part === '' ? '' : REDACTED) : `${part.slice(0, eq)}=${REDACTED}`;
          })
          .join('&')}`;
  const fragment = parsed.hash === '' ? '' : `#${REDACTED}`;
  const authority = parsed.host === '' && !url.includes('//') ? '' : `//${parsed.host}`;
  return `${parsed.protocol}${authority}${parsed.pathname}${query}${fragment}`;
}

/** `scheme://userinfo@`: the userinfo, up to the last `@` before the path. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*(?:@[^\s/?#@]*)*@(?=[^\s@])/gi;
/**
 * Query parameters that carry credentials: GCS and S3 signed URLs, Azure SAS (`sig`), OAuth tokens, API
 * keys. Matched after `?`, `&` or `;`, so `monkey=` is not `key=`.
 */
const SENSITIVE_QUERY_VALUE =
  /([?&;](?:x-(?:goog|amz)-(?:signature|credential|security-token)|sig|signature|(?:access_|id_|refresh_)?token|key|api[-_]?key|password|passwd|secret|client_secret|credential|auth)=)[^&#\s"'<>]+/gi;

/**
 * URLs inside free text (log messages, driver errors): userinfo removed, signature-, token- and key-like
 * query values replaced by [REDACTED]. Other query values stay: free text is not known to be a URL.
 */
export function redactUrlsInText(text: string): string {
  if (!text.includes('=') && !text.includes('@')) return text;
  return text.replace(URL_USERINFO, '$1').replace(SENSITIVE_QUERY_VALUE, `$1${REDACTED}`);
}

/** The instance every store and logger of this process shares. */
export const secretRegistry = new SecretRegistry();
