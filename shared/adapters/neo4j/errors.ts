import { Neo4jError, error as neo4jErrors, isRetryableError } from 'neo4j-driver';
import { GraphmillError, contentTooLarge, dependencyUnavailable, isGraphmillError } from '../../errors';

export const NEO4J_AUTH_ERROR_CODES = [
  'Neo.ClientError.Security.Unauthorized',
  'Neo.ClientError.Security.AuthenticationRateLimit',
  'Neo.ClientError.Security.CredentialsExpired',
  'Neo.ClientError.Security.TokenExpired',
] as const;

/** Neo4j ran out of transaction memory: the same write fails again, however often it is retried. */
export const NEO4J_MEMORY_ERROR_CODES = [
  'Neo.TransientError.General.MemoryPoolOutOfMemoryError',
  'Neo.TransientError.General.TransactionMemoryLimit',
  'Neo.ClientError.General.TransactionOutOfMemoryError',
] as const;

/** The server cannot be reached at all (as opposed to refusing or failing one transaction). */
export function isNeo4jConnectivityError(err: unknown): boolean {
  return (
    err instanceof Neo4jError &&
    (err.code === neo4jErrors.SERVICE_UNAVAILABLE || err.code === neo4jErrors.SESSION_EXPIRED)
  );
}

export function isNeo4jAuthError(err: unknown): boolean {
  return err instanceof Neo4jError && (NEO4J_AUTH_ERROR_CODES as readonly string[]).includes(err.code);
}

/** How long clients should wait before retrying after Neo4j was unreachable (a paused Aura takes ~60 s). */
export const NEO4J_RETRY_AFTER_SECONDS = 30;

/** Neo4j did not answer (or not properly) after graphmill's own retries: what classifyNeo4jError reports. */
export const isNeo4jUnavailable = (err: unknown): err is GraphmillError =>
  isGraphmillError(err) && err.code === 'dependency_unavailable' && err.details?.['dependency'] === 'neo4j';

/**
 * Maps driver errors onto GraphmillError. Connectivity (ServiceUnavailable, SessionExpired) and the
 * driver's own retryable errors become 503 `dependency_unavailable`; anything else from Neo4j is a
 * bug in graphmill's Cypher or data and stays a non-retryable 500.
 */
export function classifyNeo4jError(err: unknown): GraphmillError | undefined {
  if (isGraphmillError(err)) return err;
  if (!(err instanceof Neo4jError)) return undefined;
  if (isNeo4jAuthError(err)) {
    return dependencyUnavailable('Neo4j rejected the credentials; check the password secret', {
      cause: err,
      retryAfterSeconds: NEO4J_RETRY_AFTER_SECONDS,
      details: { dependency: 'neo4j' },
    });
  }
  if ((NEO4J_MEMORY_ERROR_CODES as readonly string[]).includes(err.code)) {
    return contentTooLarge(
      "The document is too large for the Neo4j server's transaction memory; raise the server's memory limits or split the document",
      { cause: err, details: { dependency: 'neo4j', neo4jCode: err.code } },
    );
  }
  // The driver's own errors (acquisition timeouts, a closed pool, a protocol hiccup while the server
  // restarts) carry no `Neo.` code: the server is not answering properly, which is worth retrying.
  if (isRetryableError(err) || !err.code.startsWith('Neo.')) {
    return dependencyUnavailable(`Neo4j is unavailable (${err.code}); retry later`, {
      cause: err,
      retryAfterSeconds: NEO4J_RETRY_AFTER_SECONDS,
      details: { dependency: 'neo4j' },
    });
  }
  return undefined;
}
