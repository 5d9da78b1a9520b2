/**
 * Entry points register with the functions framework at import and build everything else on the first
 * request: importing an entrypoint opens no connection and loads only the framework (cold start).
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { installBodyErrorProblems } from '../http/body-errors';
import { sendProblem } from '../http/problem';
import { requestIdFrom } from '../http/request';
import { toGraphmillError } from '../errors';

export interface LoadedHttpFunction {
  handle(req: Request, res: Response): Promise<void>;
  close(): Promise<void>;
}

export interface LazyHttpFunction {
  readonly handler: (req: Request, res: Response) => Promise<void>;
  /** Closes what the first request built (driver, state database); the next request builds it again. */
  close(): Promise<void>;
}

/** Also installs the body limits and problem+json body errors, so that every HTTP function has them. */
export function lazyHttp(functionName: string, load: () => Promise<LoadedHttpFunction>): LazyHttpFunction {
  installBodyErrorProblems();
  let loaded: Promise<LoadedHttpFunction> | undefined;
  const get = (): Promise<LoadedHttpFunction> => {
    loaded ??= load().catch((err: unknown) => {
      loaded = undefined; // a configuration error is reported on every request until it is fixed
      throw err;
    });
    return loaded;
  };
  return {
    async handler(req, res) {
      let fn: LoadedHttpFunction;
      try {
        fn = await get();
      } catch (err) {
        const requestId = requestIdFrom(req.headers);
        reportStartupFailure(functionName, err, requestId);
        sendProblem(res, err, req.originalUrl || '/', requestId);
        return;
      }
      await fn.handle(req, res);
    },
    async close() {
      const l = loaded;
      loaded = undefined;
      const fn = l ? await l.catch(() => undefined) : undefined;
      await fn?.close();
    },
  };
}

/**
 * The logger itself may be what failed to build (invalid LOG_LEVEL), so a startup failure is written as
 * one structured line directly: Cloud Logging reads `severity` from it.
 */
export function reportStartupFailure(functionName: string, err: unknown, requestId: string): void {
  const e = toGraphmillError(err);
  process.stderr.write(
    `${JSON.stringify({ severity: 'CRITICAL', message: 'function cannot start', function: functionName, requestId, code: e.code, error: e.message })}\n`,
  );
}

export interface LoadedEventFunction {
  handle(event: import('../events/types').PubSubCloudEvent): Promise<void>;
  close(): Promise<void>;
}

/**
 * The event-function twin of lazyHttp. A function that cannot start throws, so Pub/Sub keeps the message
 * (and redelivers it once the configuration is fixed) instead of losing it.
 */
export function lazyEvent(functionName: string, load: () => Promise<LoadedEventFunction>) {
  let loaded: Promise<LoadedEventFunction> | undefined;
  const get = (): Promise<LoadedEventFunction> => {
    loaded ??= load().catch((err: unknown) => {
      loaded = undefined;
      throw err;
    });
    return loaded;
  };
  return {
    async handler(event: import('../events/types').PubSubCloudEvent): Promise<void> {
      let fn: LoadedEventFunction;
      try {
        fn = await get();
      } catch (err) {
        reportStartupFailure(functionName, err, event.id);
        throw err;
      }
      await fn.handle(event);
    },
    async close(): Promise<void> {
      const l = loaded;
      loaded = undefined;
      const fn = l ? await l.catch(() => undefined) : undefined;
      await fn?.close();
    },
  };
}
