/** Time, sleep and randomness are injected everywhere so tests are fast and deterministic. */
export type Clock = () => number;

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export type Random = () => number;
