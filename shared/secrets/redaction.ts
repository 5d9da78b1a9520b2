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

  /** Replaces every occurrence of every remembered value with [REDACTED]. */
  redact(text: string): string {
    if (this.values.size === 0 || text.length < MIN_SECRET_LENGTH) return text;
    return text.replace(this.compiled(), REDACTED);
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

/** The instance every store and logger of this process shares. */
export const secretRegistry = new SecretRegistry();
