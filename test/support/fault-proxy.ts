/**
 * A TCP fault proxy for tests (test tooling, not product): listens on 127.0.0.1 and forwards every
 * connection to one loopback upstream (a Bolt port), injecting faults from a seeded random:
 *
 * - drop: a new connection is destroyed right after it is accepted, before any byte is forwarded; the
 *   drops are spread evenly (one in 1/dropRate, from a seeded phase), so a short run gets its share too;
 * - cut: established connections are destroyed (both sides), on demand (`cut`) or on a timer;
 * - latency spikes: for a window of time every chunk in both directions is held back (order kept);
 * - stalls: new connections are accepted and then held without a byte forwarded (a server that
 *   accepts TCP but never answers), until the stall ends;
 * - lost commit acknowledgements (Bolt): after the client sends a COMMIT message, the server's answer is
 *   swallowed and the connection cut, so the transaction is committed but the client never learns it.
 *
 * Everything is bounded: connections (`maxConnections`), the timers (cleared by `close`), and a spike
 * never holds data for longer than its own length. Only loopback: both the listening address and the
 * upstream host are checked at construction.
 */
import { isIP, createServer, connect as netConnect, type Server, type Socket } from 'node:net';

export interface FaultProxyOptions {
  /** Loopback host of the upstream server (127.0.0.1 or ::1). */
  readonly upstreamHost: string;
  readonly upstreamPort: number;
  /** Seed of the fault decisions (mulberry32). */
  readonly seed: number;
  /** Fraction of new connections destroyed at once (0..1), spread evenly from a seeded phase. */
  readonly dropRate?: number;
  /** Every `spikeEveryMs` (± half, random), a spike of `spikeMinMs`..`spikeMaxMs` starts; 0 = none. */
  readonly spikeEveryMs?: number;
  readonly spikeMinMs?: number;
  readonly spikeMaxMs?: number;
  /** Every `cutEveryMs` (± half, random), `cutFraction` of the live connections are cut; 0 = none. */
  readonly cutEveryMs?: number;
  readonly cutFraction?: number;
  /** Fraction of Bolt COMMIT messages whose reply is swallowed (connection cut after the commit). */
  readonly commitAckLossRate?: number;
  /** Connections alive at once; more are refused (counted as `refusedOverLimit`). Default 256. */
  readonly maxConnections?: number;
}

export interface FaultCounters {
  accepted: number;
  /** Connections destroyed on accept (the drop rate). */
  dropped: number;
  /** Established connections destroyed by `cut` or the cut timer. */
  cut: number;
  /** Latency spikes started. */
  spikes: number;
  /** Chunks held back by a spike. */
  delayedChunks: number;
  /** Total milliseconds of spikes. */
  spikeMs: number;
  /** Bolt COMMITs seen, and those whose reply was swallowed (committed, never acknowledged). */
  commits: number;
  commitAcksLost: number;
  /** Connections cut because their client sent the `cutOnQueryContaining` marker. */
  cutOnQuery: number;
  /** Connections held by a stall (accepted, never forwarded). */
  stalled: number;
  /** Upstream connects that failed (the server was down). */
  upstreamErrors: number;
  refusedOverLimit: number;
  /** Connections that ended normally or by error, after being forwarded. */
  closed: number;
}

export interface FaultProxy {
  readonly port: number;
  readonly counters: Readonly<FaultCounters>;
  /** Connections currently forwarded. */
  live(): number;
  /** Cuts `fraction` (default all) of the live connections now; returns how many. */
  cut(fraction?: number): number;
  /**
   * Deterministic lost acknowledgement, once: the reply to the next COMMIT is swallowed and that
   * connection cut (the transaction is committed, the client never hears it). With `afterQueryContaining`,
   * only a COMMIT on a connection that has sent a query containing that text since it was armed counts.
   */
  armCommitAckLoss(options?: { readonly afterQueryContaining?: string }): void;
  /**
   * While set, a connection whose client sends the marker (a query or its parameters containing that text)
   * is cut before those bytes reach the server: the statement is in flight when the connection drops, as
   * when an oversized statement takes the server or the connection down. `undefined` turns it off.
   */
  cutOnQueryContaining(marker: string | undefined): void;
  /** While on, new connections are accepted and held silently; turning it off destroys the held ones. */
  stall(on: boolean): void;
  /** Turns the random faults (drops, spikes, timed cuts) on or off; explicit `cut` and `arm` always work. */
  setFaults(on: boolean): void;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1']);

/** A small seeded PRNG (mulberry32): same seed, same fault sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  /** A COMMIT was forwarded whose reply must be swallowed. */
  swallowNextReply: boolean;
  /** Sent the armed query text since the proxy was armed. */
  sawArmedQuery: boolean;
  /** The last bytes sent to the server, so a query text split across TCP reads is still found. */
  tail: Buffer;
}

/** A Bolt COMMIT message as the driver sends it: chunk of 2 bytes, tiny struct (0 fields) 0x12, end marker. */
const BOLT_COMMIT = Buffer.from([0x00, 0x02, 0xb0, 0x12, 0x00, 0x00]);

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  if (!LOOPBACK.has(options.upstreamHost) || isIP(options.upstreamHost) === 0) {
    throw new Error(`fault proxy: upstream must be a loopback address, got ${options.upstreamHost}`);
  }
  const random = mulberry32(options.seed);
  const dropRate = options.dropRate ?? 0;
  // Accumulates dropRate per connection; a drop each time it passes 1 (seeded start: a seeded phase).
  let dropDebt = random();
  const commitAckLossRate = options.commitAckLossRate ?? 0;
  const maxConnections = options.maxConnections ?? 256;
  const counters: FaultCounters = {
    accepted: 0,
    dropped: 0,
    cut: 0,
    spikes: 0,
    delayedChunks: 0,
    spikeMs: 0,
    commits: 0,
    commitAcksLost: 0,
    cutOnQuery: 0,
    stalled: 0,
    upstreamErrors: 0,
    refusedOverLimit: 0,
    closed: 0,
  };
  const pairs = new Set<Pair>();
  const timers = new Set<NodeJS.Timeout>();
  let faultsOn = true;
  let closing = false;
  let spikeUntil = 0;
  /** One-shot lost acknowledgement, armed by armCommitAckLoss. */
  let armed: { marker: Buffer | undefined } | undefined;
  let cutMarker: Buffer | undefined;
  let stalling = false;
  const held = new Set<Socket>();

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  /**
   * Forwards src -> dst; while a spike lasts, chunks queue (in order) and are flushed when it ends.
   * Client -> server chunks are watched for COMMIT; the next server -> client chunk after a chosen one
   * is dropped with the connection.
   */
  const forward = (pair: Pair, toUpstream: boolean): void => {
    const src = toUpstream ? pair.client : pair.upstream;
    const dst = toUpstream ? pair.upstream : pair.client;
    const queue: Buffer[] = [];
    let waiting = false;
    const flush = (): void => {
      waiting = false;
      const wait = spikeUntil - Date.now();
      if (wait > 0) {
        waiting = true;
        later(wait, flush);
        return;
      }
      while (queue.length > 0 && !dst.destroyed) dst.write(queue.shift() as Buffer);
      src.resume();
    };
    src.on('data', (chunk: Buffer) => {
      if (toUpstream && armed?.marker !== undefined && !pair.sawArmedQuery) {
        pair.sawArmedQuery = Buffer.concat([pair.tail, chunk]).includes(armed.marker);
      }
      if (toUpstream && cutMarker !== undefined && Buffer.concat([pair.tail, chunk]).includes(cutMarker)) {
        counters.cutOnQuery++;
        cutPair(pair);
        return;
      }
      if (toUpstream) pair.tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - 256)));
      if (toUpstream && chunk.includes(BOLT_COMMIT)) {
        counters.commits++;
        if (armed !== undefined && (armed.marker === undefined || pair.sawArmedQuery)) {
          armed = undefined;
          pair.swallowNextReply = true;
        } else if (faultsOn && commitAckLossRate > 0 && random() < commitAckLossRate) {
          pair.swallowNextReply = true;
        }
      } else if (!toUpstream && pair.swallowNextReply) {
        counters.commitAcksLost++;
        cutPair(pair);
        return;
      }
      if (waiting || Date.now() < spikeUntil) {
        counters.delayedChunks++;
        queue.push(chunk);
        src.pause();
        if (!waiting) {
          waiting = true;
          later(Math.max(0, spikeUntil - Date.now()), flush);
        }
        return;
      }
      if (!dst.write(chunk)) {
        src.pause();
        dst.once('drain', () => src.resume());
      }
    });
  };

  const destroyPair = (pair: Pair): void => {
    if (!pairs.delete(pair)) return;
    counters.closed++;
    pair.client.destroy();
    pair.upstream.destroy();
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    client.on('error', () => undefined);
    if (closing) {
      client.destroy();
      return;
    }
    counters.accepted++;
    if (pairs.size >= maxConnections) {
      counters.refusedOverLimit++;
      client.destroy();
      return;
    }
    if (stalling) {
      counters.stalled++;
      held.add(client);
      client.on('close', () => held.delete(client));
      return;
    }
    if (faultsOn && dropRate > 0 && (dropDebt += dropRate) >= 1) {
      dropDebt -= 1;
      counters.dropped++;
      client.destroy();
      return;
    }
    const upstream = netConnect({ host: options.upstreamHost, port: options.upstreamPort });
    const pair: Pair = {
      client,
      upstream,
      swallowNextReply: false,
      sawArmedQuery: false,
      tail: Buffer.alloc(0),
    };
    pairs.add(pair);
    let connected = false;
    upstream.on('error', () => {
      if (!connected) counters.upstreamErrors++;
      destroyPair(pair);
    });
    upstream.once('connect', () => {
      connected = true;
      forward(pair, true);
      forward(pair, false);
      client.resume();
    });
    client.on('close', () => destroyPair(pair));
    upstream.on('close', () => destroyPair(pair));
  });

  /** Destroys an established pair without counting it as an ordinary close. */
  const cutPair = (pair: Pair): void => {
    if (!pairs.has(pair)) return;
    counters.closed--;
    destroyPair(pair);
  };

  const cut = (fraction = 1): number => {
    let n = 0;
    for (const pair of [...pairs]) {
      if (fraction >= 1 || random() < fraction) {
        counters.cut++;
        n++;
        cutPair(pair);
      }
    }
    return n;
  };

  const jittered = (every: number): number => Math.round(every / 2 + random() * every);
  const scheduleSpike = (): void => {
    const every = options.spikeEveryMs ?? 0;
    if (every <= 0 || closing) return;
    later(jittered(every), () => {
      if (faultsOn) {
        const min = options.spikeMinMs ?? 100;
        const max = Math.max(min, options.spikeMaxMs ?? 500);
        const length = Math.round(min + random() * (max - min));
        counters.spikes++;
        counters.spikeMs += length;
        spikeUntil = Math.max(spikeUntil, Date.now() + length);
      }
      scheduleSpike();
    });
  };
  const scheduleCut = (): void => {
    const every = options.cutEveryMs ?? 0;
    if (every <= 0 || closing) return;
    later(jittered(every), () => {
      if (faultsOn) cut(options.cutFraction ?? 0.25);
      scheduleCut();
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('fault proxy: no address');
  scheduleSpike();
  scheduleCut();

  return {
    port: address.port,
    counters,
    live: () => pairs.size,
    cut,
    armCommitAckLoss(options = {}) {
      const text = options.afterQueryContaining;
      armed = { marker: text === undefined ? undefined : Buffer.from(text, 'utf8') };
      for (const pair of pairs) pair.sawArmedQuery = false;
    },
    cutOnQueryContaining(marker) {
      cutMarker = marker === undefined ? undefined : Buffer.from(marker, 'utf8');
    },
    stall(on) {
      stalling = on;
      if (!on) for (const socket of [...held]) socket.destroy();
    },
    setFaults(on) {
      faultsOn = on;
      if (!on) spikeUntil = 0;
    },
    async close() {
      closing = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      spikeUntil = 0;
      stalling = false;
      for (const socket of [...held]) socket.destroy();
      for (const pair of [...pairs]) {
        pairs.delete(pair);
        pair.client.destroy();
        pair.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
