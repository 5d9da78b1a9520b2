/**
 * The secrets port. `name` is a secret id (`neo4j-password`) or, for adapters that understand it, a full
 * resource name pinning a version (`projects/p/secrets/neo4j-password/versions/3`).
 */
export interface SecretStore {
  /** The secret's current value. Rejects with a GraphmillError: `config_invalid` when it cannot exist. */
  get(name: string): Promise<string>;
  /** Forget any cached value so the next `get` reads the source again (after an auth failure, say). */
  invalidate(name: string): void;
}
