import type { Logger } from '../logging';
import { errorCodeOf } from '../resilience/classify';
import type { Clock } from '../ports/clock';
import { secretRegistry, type SecretRegistry } from './redaction';
import type { SecretStore } from '../ports/secret-store';

export interface CachedSecretStoreOptions {
  readonly clock: Clock;
  /** How long a value is served without asking the inner store. Default 5 min. */
  readonly ttlMs?: number;
  /**
   * How long past its TTL a value may still be served while refreshes fail. Default 1 h: long enough to
   * ride out a Secret Manager incident, short enough that a rotated-and-revoked credential is not used
   * for the rest of the instance's life.
   */
  readonly maxStaleMs?: number;
  readonly logger?: Logger;
  readonly registry?: SecretRegistry;
}

interface Entry {
  readonly value: string;
  readonly fetchedAt: number;
}

/**
 * A TTL cache in front of any SecretStore: one in-flight fetch per secret (concurrent gets share it),
 * a refetch on the first get after the TTL, and the previous value served (with a warning, never the
 * value) while refreshes fail, up to ttlMs + maxStaleMs after it was fetched; then the failure surfaces.
 */
export class CachedSecretStore implements SecretStore {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<string>>();
  /** Bumped by invalidate(), so a fetch that started before it cannot write its result back. */
  private readonly generations = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly maxStaleMs: number;
  private readonly clock: Clock;
  private readonly registry: SecretRegistry;

  constructor(
    private readonly inner: SecretStore,
    private readonly options: CachedSecretStoreOptions,
  ) {
    this.clock = options.clock;
    this.ttlMs = options.ttlMs ?? 300_000;
    this.maxStaleMs = options.maxStaleMs ?? 3_600_000;
    this.registry = options.registry ?? secretRegistry;
  }

  get(name: string): Promise<string> {
    const entry = this.entries.get(name);
    if (entry !== undefined && this.clock() - entry.fetchedAt < this.ttlMs) {
      this.registry.remember(entry.value);
      return Promise.resolve(entry.value);
    }
    const pending = this.inFlight.get(name);
    if (pending !== undefined) return pending;
    const fetch = this.refresh(name, entry).finally(() => {
      // An invalidate() may have replaced this fetch in the meantime; only remove our own.
      if (this.inFlight.get(name) === fetch) this.inFlight.delete(name);
    });
    this.inFlight.set(name, fetch);
    return fetch;
  }

  /** Drops the cached value and detaches any in-flight fetch: the next get reads the inner store afresh. */
  invalidate(name: string): void {
    this.entries.delete(name);
    this.inFlight.delete(name);
    this.generations.set(name, (this.generations.get(name) ?? 0) + 1);
    this.inner.invalidate(name);
  }

  private async refresh(name: string, previous: Entry | undefined): Promise<string> {
    const generation = this.generations.get(name) ?? 0;
    this.generations.set(name, generation);
    let value: string;
    try {
      value = await this.inner.get(name);
    } catch (err) {
      // Only the value this fetch started from, and only while it is still the cached one (not invalidated).
      const ageMs = previous === undefined ? 0 : this.clock() - previous.fetchedAt;
      if (
        previous === undefined ||
        this.generations.get(name) !== generation ||
        ageMs > this.ttlMs + this.maxStaleMs
      ) {
        throw err;
      }
      this.options.logger?.warn('secret refresh failed; serving the previous value', {
        name,
        ageMs,
        errorCode: errorCodeOf(err),
      });
      this.registry.remember(previous.value);
      return previous.value;
    }
    this.registry.remember(value);
    // A fetch detached by invalidate() still answers its own callers but must not repopulate the cache.
    if (this.generations.get(name) === generation) {
      this.entries.set(name, { value, fetchedAt: this.clock() });
    }
    return value;
  }
}
