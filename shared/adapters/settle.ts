/**
 * Synchronous adapter work (a Map, the embedded SQLite database) surfaced as a promise, so callers see one
 * async port for every adapter: a throw becomes a rejection, never an exception out of the call itself.
 */
export function settle<T>(fn: () => T, toError: (err: unknown) => Error = asError): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(toError(err));
  }
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
