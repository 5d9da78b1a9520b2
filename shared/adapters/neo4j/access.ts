import neo4j, { type Driver } from 'neo4j-driver';
import { dependencyUnavailable, isGraphmillError, type GraphmillError } from '../../errors';
import type { Logger } from '../../logging';
import type { Policy } from '../../resilience';
import {
  NEO4J_RETRY_AFTER_SECONDS,
  classifyNeo4jError,
  isNeo4jAuthError,
  isNeo4jConnectivityError,
} from './errors';

export interface Neo4jSettings {
  readonly uri: string;
  readonly username: string;
  readonly database?: string | undefined;
  readonly maxConnectionPoolSize: number;
  readonly connectionTimeoutMs: number;
  readonly connectionAcquisitionTimeoutMs: number;
  readonly maxConnectionLifetimeMs: number;
  readonly maxTransactionRetryTimeMs: number;
}

/** Where the password comes from: a cached secret that can be dropped after an auth failure. */
export interface PasswordSource {
  get(): Promise<string>;
  invalidate(): void;
}

export interface Neo4jAccessDeps {
  readonly settings: Neo4jSettings;
  readonly password: PasswordSource;
  /** Bounded retries (backoff with jitter) around the first connectivity check. */
  readonly connectPolicy?: Policy;
  readonly logger?: Logger;
  /** Told once per outage when Neo4j cannot be reached (the wiring sends an alert). */
  readonly onUnavailable?: (error: GraphmillError) => void;
  /** How long close() waits for work in flight on the driver to finish (default CLOSE_GRACE_MS). */
  readonly closeGraceMs?: number;
}

/**
 * close() waits this long for work in flight before it closes the driver. A driver closed while a session
 * is still acquiring its connection can leave that connection open, and an open socket keeps a process
 * (`graphmill ingest`) from exiting; closed under a running transaction, the work fails instead of
 * finishing. Cloud Run allows 10 s between SIGTERM and SIGKILL.
 */
export const CLOSE_GRACE_MS = 5_000;

/** One driver per process instance, created and verified on first use, closed on shutdown. */
export interface Neo4jAccess {
  readonly database: string | undefined;
  /**
   * Runs `work` with the instance's driver. If Neo4j rejects the credentials, the password is read again
   * once (a rotated secret) and the driver rebuilt before one more try; a second rejection surfaces.
   */
  withDriver<T>(work: (driver: Driver) => Promise<T>): Promise<T>;
  /** The driver itself (built and verified on first use), for callers that manage their own sessions. */
  driver(): Promise<Driver>;
  close(): Promise<void>;
}

export function makeNeo4jAccess(deps: Neo4jAccessDeps): Neo4jAccess {
  const { settings } = deps;
  let current: Promise<Driver> | undefined;
  let unavailableReported = false;

  const host = (() => {
    try {
      return new URL(settings.uri.replace(/^[a-z+]+:/, 'http:')).host;
    } catch {
      return settings.uri;
    }
  })();

  const buildAndVerify = async (): Promise<Driver> => {
    const password = await deps.password.get();
    const driver = neo4j.driver(settings.uri, neo4j.auth.basic(settings.username, password), {
      maxConnectionPoolSize: settings.maxConnectionPoolSize,
      connectionTimeout: settings.connectionTimeoutMs,
      connectionAcquisitionTimeout: settings.connectionAcquisitionTimeoutMs,
      maxConnectionLifetime: settings.maxConnectionLifetimeMs,
      maxTransactionRetryTime: settings.maxTransactionRetryTimeMs,
      disableLosslessIntegers: true,
      // Names the instance in the server's `dbms.listConnections()`, so operators can tell who holds what.
      userAgent: `graphmill (pid ${process.pid})`,
    });
    try {
      const verify = () =>
        driver.verifyConnectivity(settings.database ? { database: settings.database } : {});
      if (deps.connectPolicy) await deps.connectPolicy.execute(verify);
      else await verify();
      recovered();
      return driver;
    } catch (err) {
      await driver.close().catch(() => undefined);
      if (isNeo4jAuthError(err)) throw err; // handled by withDriver: refresh the password once
      throw report(unreachable(err));
    }
  };

  /** Logs and reports an outage once; `recovered` re-arms it when Neo4j answers again. */
  const report = (e: GraphmillError): GraphmillError => {
    if (!unavailableReported) {
      unavailableReported = true;
      deps.logger?.error('neo4j unreachable', { neo4jHost: host, code: e.code, error: e.message });
      deps.onUnavailable?.(e);
    }
    return e;
  };
  const recovered = (): void => {
    if (unavailableReported) deps.logger?.notice('neo4j reachable again', { neo4jHost: host });
    unavailableReported = false;
  };

  const unreachable = (cause: unknown): GraphmillError =>
    isGraphmillError(cause) && cause.code === 'dependency_unavailable'
      ? cause
      : dependencyUnavailable(
          `Neo4j at ${host} is unreachable (${errorMessage(cause)}). If this is an AuraDB instance it may be paused: ` +
            'resume it in the Aura console; requests succeed again once it answers.',
          { cause, retryAfterSeconds: NEO4J_RETRY_AFTER_SECONDS, details: { dependency: 'neo4j' } },
        );

  /** Set by close(): from then on no work starts, so no driver is built that nothing would close. */
  let closing: Promise<void> | undefined;

  const driver = (): Promise<Driver> => {
    if (closing) {
      return Promise.reject(
        dependencyUnavailable(`The Neo4j access to ${host} is closed: the process is shutting down`, {
          retryAfterSeconds: NEO4J_RETRY_AFTER_SECONDS,
          details: { dependency: 'neo4j' },
        }),
      );
    }
    current ??= buildAndVerify().catch((err: unknown) => {
      current = undefined; // the next call tries again (a paused database resumes)
      throw err;
    });
    return current;
  };

  /** Work in flight per driver: a retired driver is closed only once nothing uses it any more. */
  const users = new Map<Driver, number>();
  const retired = new Set<Driver>();
  /** Resolved when a driver's last work in flight has finished (close() waits on it). */
  const idle = new Map<Driver, () => void>();
  const release = (d: Driver): void => {
    const n = (users.get(d) ?? 1) - 1;
    if (n > 0) {
      users.set(d, n);
      return;
    }
    users.delete(d);
    idle.get(d)?.();
    idle.delete(d);
    if (retired.delete(d)) void d.close().catch(() => undefined);
  };
  /** Waits until nothing uses `d` any more, or `graceMs` has passed; true when the work finished. */
  const untilIdle = (d: Driver, graceMs: number): Promise<boolean> => {
    if (!users.has(d)) return Promise.resolve(true);
    return new Promise((resolve) => {
      // The grace period races real work on the driver: a real timer, which a fake clock could not end.
      const timer = setTimeout(() => {
        idle.delete(d);
        resolve(false);
      }, graceMs);
      idle.set(d, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  };

  /**
   * Replaces the driver after a credentials failure: the next call builds a new one with the password read
   * again. Only the first caller that saw `failed` rebuilds (the others just use the new driver), and the
   * old driver is closed when the work still running on it has finished, not under it.
   */
  const retire = async (failed: Driver): Promise<void> => {
    const d = current ? await current.catch(() => undefined) : undefined;
    if (d !== failed) return; // someone else already replaced it
    current = undefined;
    deps.password.invalidate();
    if (users.has(failed)) retired.add(failed);
    else await failed.close().catch(() => undefined);
  };

  const runWith = async <T>(work: (driver: Driver) => Promise<T>): Promise<{ driver: Driver; result: T }> => {
    const d = await driver();
    users.set(d, (users.get(d) ?? 0) + 1);
    try {
      return { driver: d, result: await work(d) };
    } catch (err) {
      throw Object.assign(new DriverFailure(err), { driver: d });
    } finally {
      release(d);
    }
  };

  const closeAll = async (): Promise<void> => {
    const d = current;
    current = undefined;
    const built = d ? await d.catch(() => undefined) : undefined;
    if (built && !(await untilIdle(built, deps.closeGraceMs ?? CLOSE_GRACE_MS))) {
      deps.logger?.warn('closing the Neo4j driver under work still in flight', {
        neo4jHost: host,
        inFlight: users.get(built) ?? 0,
      });
    }
    await Promise.all(
      [built, ...retired]
        .filter((x): x is Driver => x !== undefined)
        .map((x) => x.close().catch(() => undefined)),
    );
    retired.clear();
  };

  return {
    database: settings.database,
    driver,
    async withDriver(work) {
      try {
        const { result } = await runWith(work);
        recovered();
        return result;
      } catch (failure) {
        const err = failure instanceof DriverFailure ? failure.cause : failure;
        if (!isNeo4jAuthError(err)) {
          // Only a server that cannot be reached is an outage (logged and alerted once); a failing
          // transaction is the caller's error to handle.
          const classified = classifyNeo4jError(err);
          if (classified && isNeo4jConnectivityError(err)) throw report(classified);
          throw classified ?? err;
        }
        deps.logger?.warn('neo4j rejected the credentials; reading the password secret again', {
          neo4jHost: host,
        });
        if (failure instanceof DriverFailure && failure.driver) await retire(failure.driver);
        else deps.password.invalidate(); // refused while the driver was being built and verified
        try {
          return (await runWith(work)).result;
        } catch (secondFailure) {
          const second = secondFailure instanceof DriverFailure ? secondFailure.cause : secondFailure;
          if (!isNeo4jAuthError(second)) throw classifyNeo4jError(second) ?? second;
          throw dependencyUnavailable(
            `Neo4j at ${host} rejected the credentials after the password secret was read again; check the secret`,
            { cause: second, retryAfterSeconds: NEO4J_RETRY_AFTER_SECONDS, details: { dependency: 'neo4j' } },
          );
        }
      }
    },
    close: () => (closing ??= closeAll()),
  };
}

/** An error thrown by work on a driver, remembering which driver (so only that one is retired). */
class DriverFailure extends Error {
  driver: Driver | undefined;
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
