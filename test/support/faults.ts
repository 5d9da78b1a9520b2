/**
 * Fault-injecting wrappers of graphmill's ports, for chaos tests. A seeded injector decides, per call,
 * whether the call goes through, fails before reaching the store ("unavailable": nothing happened), or
 * fails after the store applied it ("ack lost": the caller sees an error for a write that happened). The
 * thrown error is what an adapter surfaces once its client library gave up: a retryable 503
 * `dependency_unavailable`.
 *
 * Three ways in, all at the adapter level (under any retry the product wraps around the port):
 * `wrapPort` returns a new object (for ports the composition root takes as overrides, like the
 * completion ledgers); `injectInPlace` replaces the methods on an instance (the local bus the
 * composition root builds and uses as the publisher); `injectIntoClass` replaces them on an adapter
 * class's prototype (the status store, which the composition root builds from the configuration and
 * hands out only behind its retry wrapper). The last two return the undo.
 */
import { dependencyUnavailable } from '../../shared/errors';
import type { EventPublisher } from '../../shared/ports/event-publisher';
import type { StatusStore } from '../../shared/ports/status-store';
import type { CompletionLedger } from '../../shared/ports/completion-ledger';
import { mulberry32 } from './fault-proxy';

export type FaultOutcome = 'ok' | 'unavailable' | 'ack_lost';

export interface PortCounters {
  calls: number;
  /** Failed before reaching the store (random faults and outages). */
  unavailable: number;
  /** Failed after the store applied the write. */
  ackLost: number;
  /** Of `unavailable`, the calls that failed because the port was down outright. */
  duringOutage: number;
}

export interface FaultInjectorOptions {
  readonly seed: number;
  /** Fraction of calls that fail (0..1). */
  readonly rate: number;
  /** Of the failing write calls, the fraction that fail after the write happened. Default 0.25. */
  readonly ackLostShare?: number;
}

export class FaultInjector {
  private readonly random: () => number;
  private readonly rate: number;
  private readonly ackLostShare: number;
  /** Faults are injected only while enabled. */
  enabled = false;
  readonly counters: Record<string, PortCounters> = {};

  constructor(options: FaultInjectorOptions) {
    this.random = mulberry32(options.seed);
    this.rate = options.rate;
    this.ackLostShare = options.ackLostShare ?? 0.25;
  }

  /** Ports that are down outright (every call fails), on top of the random rate. */
  readonly down = new Set<string>();

  decide(key: string, isWrite: boolean): FaultOutcome {
    const c = (this.counters[key] ??= { calls: 0, unavailable: 0, ackLost: 0, duringOutage: 0 });
    c.calls++;
    if (this.down.has(key.split('.')[0] as string)) {
      c.unavailable++;
      c.duringOutage++;
      return 'unavailable';
    }
    if (!this.enabled || this.random() >= this.rate) return 'ok';
    if (isWrite && this.random() < this.ackLostShare) {
      c.ackLost++;
      return 'ack_lost';
    }
    c.unavailable++;
    return 'unavailable';
  }

  /** Totals by port (the part of the key before the dot). */
  totals(): Record<string, PortCounters & { failed: number }> {
    const out: Record<string, PortCounters & { failed: number }> = {};
    for (const [key, c] of Object.entries(this.counters)) {
      const port = key.split('.')[0] as string;
      const t = (out[port] ??= { calls: 0, unavailable: 0, ackLost: 0, duringOutage: 0, failed: 0 });
      t.calls += c.calls;
      t.duringOutage += c.duringOutage;
      t.unavailable += c.unavailable;
      t.ackLost += c.ackLost;
      t.failed += c.unavailable + c.ackLost;
    }
    return out;
  }

  /** Runs `call` under a decision for `port.method`. */
  async run<T>(port: string, method: string, isWrite: boolean, call: () => Promise<T>): Promise<T> {
    const outcome = this.decide(`${port}.${method}`, isWrite);
    if (outcome === 'unavailable') throw injected(port, method, 'unavailable');
    const result = await call();
    if (outcome === 'ack_lost') throw injected(port, method, 'ack lost');
    return result;
  }
}

function injected(port: string, method: string, what: string) {
  return dependencyUnavailable(`injected fault: ${port}.${method} ${what}`, {
    details: { injected: true, port, method },
  });
}

type AsyncMethods<T> = {
  [K in keyof T]: T[K] extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof T];

export interface PortSpec<T> {
  readonly port: string;
  /** Methods that change state (may fail after applying); the others only read. */
  readonly writes: readonly AsyncMethods<T>[];
  readonly reads: readonly AsyncMethods<T>[];
}

function wrapped<T extends object>(
  target: T,
  spec: PortSpec<T>,
  injector: FaultInjector,
  method: AsyncMethods<T>,
  isWrite: boolean,
) {
  const original = (target[method] as (...args: unknown[]) => Promise<unknown>).bind(target);
  return (...args: unknown[]) => injector.run(spec.port, String(method), isWrite, () => original(...args));
}

/** A new object whose listed methods go through the injector; the rest of `target` is untouched. */
export function wrapPort<T extends object>(target: T, spec: PortSpec<T>, injector: FaultInjector): T {
  const overrides: Record<string, unknown> = {};
  for (const m of spec.writes) overrides[String(m)] = wrapped(target, spec, injector, m, true);
  for (const m of spec.reads) overrides[String(m)] = wrapped(target, spec, injector, m, false);
  return new Proxy(target, {
    get(t, prop, receiver) {
      if (typeof prop === 'string' && prop in overrides) return overrides[prop];
      const value: unknown = Reflect.get(t, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
    },
  });
}

/** Replaces the listed methods on the instance itself; returns a function that puts them back. */
export function injectInPlace<T extends object>(
  target: T,
  spec: PortSpec<T>,
  injector: FaultInjector,
): () => void {
  const bag = target as Record<string, unknown>;
  const saved: [string, boolean, unknown][] = [];
  const patch = (m: AsyncMethods<T>, isWrite: boolean) => {
    const name = String(m);
    saved.push([name, Object.hasOwn(bag, name), bag[name]]);
    bag[name] = wrapped(target, spec, injector, m, isWrite);
  };
  for (const m of spec.writes) patch(m, true);
  for (const m of spec.reads) patch(m, false);
  return () => {
    for (const [name, own, value] of saved.reverse()) {
      if (own) bag[name] = value;
      else delete bag[name];
    }
  };
}

/**
 * Replaces the listed methods on a class prototype, so every instance (including one the composition
 * root built and wrapped) fails underneath its wrappers; returns the undo. `this` is preserved.
 */
export function injectIntoClass<T extends object>(
  prototype: T,
  spec: PortSpec<T>,
  injector: FaultInjector,
): () => void {
  const bag = prototype as Record<string, unknown>;
  const saved: [string, PropertyDescriptor | undefined][] = [];
  const patch = (m: AsyncMethods<T>, isWrite: boolean) => {
    const name = String(m);
    const original = bag[name] as (this: unknown, ...args: unknown[]) => Promise<unknown>;
    saved.push([name, Object.getOwnPropertyDescriptor(prototype, name)]);
    bag[name] = function (this: unknown, ...args: unknown[]) {
      return injector.run(spec.port, name, isWrite, () => original.apply(this, args));
    };
  };
  for (const m of spec.writes) patch(m, true);
  for (const m of spec.reads) patch(m, false);
  return () => {
    for (const [name, descriptor] of saved.reverse()) {
      if (descriptor) Object.defineProperty(prototype, name, descriptor);
      else delete bag[name];
    }
  };
}

export const STATUS_STORE_SPEC: PortSpec<StatusStore> = {
  port: 'status',
  writes: ['register', 'claim', 'progress', 'complete', 'fail', 'delete'],
  reads: ['get', 'list'],
};

export const COMPLETION_LEDGER_SPEC = (name: string): PortSpec<CompletionLedger> => ({
  port: name,
  writes: ['record'],
  reads: ['get', 'list', 'aggregate'],
});

export const PUBLISHER_SPEC: PortSpec<EventPublisher> = {
  port: 'publisher',
  writes: ['publish'],
  reads: [],
};
