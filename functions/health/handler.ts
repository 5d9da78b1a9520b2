import type { Request, Response } from '@google-cloud/functions-framework';
import { methodNotAllowed } from '../../shared/errors';
import { sendProblem } from '../../shared/http/problem';
import { requestIdFrom } from '../../shared/http/request';
import type { HealthService } from '../../shared/health';

/** GET -> 200 when every dependency is up and every breaker closed, else 503; never cached by clients. */
export function makeHealthHandler(deps: { readonly health: HealthService }) {
  return async (req: Request, res: Response): Promise<void> => {
    const requestId = requestIdFrom(req.headers);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendProblem(
        res,
        methodNotAllowed(`Method ${req.method} is not allowed; use GET`),
        req.originalUrl || '/',
        requestId,
        {
          Allow: 'GET, HEAD',
        },
      );
      return;
    }
    const report = await deps.health.report();
    res
      .status(report.status === 'healthy' ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .set('X-Request-ID', requestId)
      .json({ ...report, requestId });
  };
}
