/**
 * Everything the chaos suites emit, kept for the leak scan: every entry of every logger they build (a
 * capturing winston transport, after graphmill's redaction format ran, as a real transport sees it),
 * every write to process.stdout / process.stderr (loggers graphmill builds itself, e.g. in
 * loadOrchestrate, write there), and any other text a suite adds (alert bodies, HTTP answers).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Transport from 'winston-transport';
import { makeLogger, type Logger } from '../../../shared/logging';

export class OutputCapture {
  private readonly chunks: string[] = [];
  private restoreFns: (() => void)[] = [];
  entries = 0;

  add(text: string): void {
    this.chunks.push(text);
  }

  text(): string {
    return this.chunks.join('\n');
  }

  bytes(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  /** A winston transport that keeps every entry as JSON (message, level and all fields). */
  transport(): Transport {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const capture = this;
    return new (class extends Transport {
      override log(info: unknown, next: () => void): void {
        capture.entries++;
        capture.add(safeJson(info));
        next();
      }
    })();
  }

  /** A graphmill logger (the real winston pipeline, redaction included) writing into this capture. */
  logger(level = 'info', base: Record<string, unknown> = {}): Logger {
    return makeLogger({ level, format: 'json', base, transport: this.transport() });
  }

  /**
   * Records every process.stdout / process.stderr write. `echo` decides which writes still reach the
   * terminal (default: none, the figures lines are written before capture replaced the stream).
   */
  captureProcessStreams(echo: (text: string) => boolean = () => false): void {
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      const replacement = (chunk: unknown, ...rest: unknown[]): boolean => {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
        this.add(text);
        if (echo(text)) return (original as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
        const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
        callback?.();
        return true;
      };
      stream.write = replacement;
      this.restoreFns.push(() => {
        stream.write = original;
      });
    }
  }

  restore(): void {
    for (const r of this.restoreFns.splice(0)) r();
  }

  /** With CHAOS_LOG_DIR set, writes everything captured to <dir>/<name>.log (for diagnosis). */
  dumpIfAsked(name: string): void {
    const dir = process.env['CHAOS_LOG_DIR'];
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.log`), this.text());
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return String(value);
  }
}

/** Every form a secret could leak in: raw, URL-encoded, JSON-escaped, and base64/base64url at any alignment. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]);
  const bytes = Buffer.from(secret, 'utf8');
  for (let offset = 0; offset < 3; offset++) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    const from = Math.ceil((8 * offset) / 6);
    const to = Math.floor((8 * (offset + bytes.length)) / 6);
    for (const encoding of ['base64', 'base64url'] as const) {
      const core = padded.toString(encoding).slice(from, to);
      if (core.length >= 8) forms.add(core);
    }
  }
  return [...forms];
}

export interface LeakReport {
  readonly secrets: number;
  readonly formsChecked: number;
  readonly bytesScanned: number;
  readonly occurrences: number;
  /** The scanner found every form of every secret planted in a synthetic text (it can see a leak). */
  readonly scannerVerified: boolean;
  /** Which secret (by label) leaked, raw or encoded, how often. */
  readonly leaks: { label: string; form: string; count: number }[];
}

/** What a suite records of a leak scan (never the leaked text itself). */
export const leakFigures = (r: LeakReport) => ({
  occurrences: r.occurrences,
  bytesScanned: r.bytesScanned,
  formsChecked: r.formsChecked,
  scannerVerified: r.scannerVerified,
});

export function scanForSecrets(text: string, secrets: Record<string, string>): LeakReport {
  let occurrences = 0;
  let formsChecked = 0;
  const leaks: { label: string; form: string; count: number }[] = [];
  for (const [label, secret] of Object.entries(secrets)) {
    for (const form of secretForms(secret)) {
      formsChecked++;
      let count = 0;
      for (let i = text.indexOf(form); i !== -1; i = text.indexOf(form, i + 1)) count++;
      if (count > 0) {
        occurrences += count;
        leaks.push({ label, form: form === secret ? 'raw' : 'encoded', count });
      }
    }
  }
  return {
    secrets: Object.keys(secrets).length,
    formsChecked,
    bytesScanned: text.length,
    occurrences,
    scannerVerified: scannerSeesPlantedSecrets(secrets),
    leaks,
  };
}

/** Plants each secret raw, URL-encoded and base64-encoded (at every alignment) and checks all are found. */
function scannerSeesPlantedSecrets(secrets: Record<string, string>): boolean {
  for (const secret of Object.values(secrets)) {
    const encoded = (pad: number, encoding: 'base64' | 'base64url') =>
      Buffer.concat([Buffer.alloc(pad, 0x41), Buffer.from(secret)]).toString(encoding);
    const planted = [
      `x${secret}y`,
      `url=${encodeURIComponent(secret)}&`,
      ...[0, 1, 2].map((pad) => `b64:${encoded(pad, 'base64')}`),
      ...[0, 1, 2].map((pad) => `b64u:${encoded(pad, 'base64url')}`),
    ];
    for (const text of planted) {
      if (!secretForms(secret).some((form) => text.includes(form))) return false;
    }
  }
  return true;
}
