/** The one knob of the chaos suite: CHAOS_SCALE=small is the CI variant, anything else the full run. */
export interface ChaosScale {
  readonly name: 'full' | 'small';
  /** Documents of the Neo4j-fault, store-fault and duplicate runs. */
  readonly documents: number;
  /** Neo4j SIGKILL + restart cycles during the Neo4j-fault ingest. */
  readonly restarts: number;
  /** Generated requests of the bad-input suite. */
  readonly fuzzedRequests: number;
  /** Concurrent requests of the load suite. */
  readonly concurrentRequests: number;
}

export function chaosScale(env: NodeJS.ProcessEnv = process.env): ChaosScale {
  return env['CHAOS_SCALE'] === 'small'
    ? { name: 'small', documents: 60, restarts: 1, fuzzedRequests: 1000, concurrentRequests: 200 }
    : { name: 'full', documents: 300, restarts: 2, fuzzedRequests: 5000, concurrentRequests: 200 };
}
