import type { Request, Response } from '@google-cloud/functions-framework';
import { methodNotAllowed, toGraphmillError } from '../errors';
import type { Logger } from '../logging';
import { sendProblem } from './problem';
import { requestIdFrom } from './request';

/**
 * An HTTP function run by Cloud Scheduler (POST, authenticated by Cloud Run with the scheduler's OIDC
 * token): runs `job` and answers its JSON report.
 */
export function makeScheduledHandler(name: string, logger: Logger, job: (log: Logger) => Promise<unknown>) {
  return async (req: Request, res: Response): Promise<void> => {
    const requestId = requestIdFrom(req.headers);
    const log = logger.child({ requestId });
    try {
      if (req.method !== 'POST') throw methodNotAllowed(`Method ${req.method} is not allowed; use POST`);
      const report = await job(log);
      log.info(`${name} finished`);
      res
        .status(200)
        .set('X-Request-ID', requestId)
        .json({ ...(report as object), requestId });
    } catch (err) {
      const e = toGraphmillError(err);
      log.error(`${name} failed`, { code: e.code, error: e.message });
      sendProblem(
        res,
        e,
        req.originalUrl || '/',
        requestId,
        e.code === 'method_not_allowed' ? { Allow: 'POST' } : {},
      );
    }
  };
}
