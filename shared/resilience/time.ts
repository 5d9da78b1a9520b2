/** Time, sleep and randomness are injected everywhere so tests are fast and deterministic. */
export type Clock = () => number;
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;
export type Random = () => number;

export const systemClock: Clock = () => Date.now();
export const systemRandom: Random = () => Math.random();

export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
