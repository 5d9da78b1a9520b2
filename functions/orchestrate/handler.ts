import type { Request, Response } from '@google-cloud/functions-framework';
import { z } from 'zod';
import {
  badRequest,
  contentTooLarge,
  methodNotAllowed,
  toGraphmillError,
  unsupportedMediaType,
} from '../../shared/errors';
import { sendProblem } from '../../shared/http/problem';
import { requestIdFrom } from '../../shared/http/request';
import { traceFields, type Logger } from '../../shared/logging';
import { ACTIONS, runDocument, type Action, type PipelineDeps } from '../../shared/pipeline';

export interface OrchestrateDeps {
  readonly pipeline: PipelineDeps;
  readonly logger: Logger;
  readonly maxRequestBytes: number;
  /** For the Cloud Logging trace field. */
  readonly projectId?: string | undefined;
}

/** Document ids: what Firestore, Neo4j and a URL path can all carry without escaping surprises. */
export const DOCUMENT_ID_PATTERN = /^(?!\.\.?$)[A-Za-z0-9._:@/-]{1,256}$/;

const documentId = z
  .string({ message: 'must be a string' })
  .regex(DOCUMENT_ID_PATTERN, 'must be 1-256 characters of letters, digits and . _ : @ / -');

const bodySchema = z
  .object({
    document_id: documentId.optional(),
    documentId: documentId.optional(),
    action: z.enum(ACTIONS, { message: `must be one of ${ACTIONS.join(', ')}` }).optional(),
  })
  .refine((b) => b.document_id !== undefined || b.documentId !== undefined, {
    message: 'document_id is required',
    path: ['document_id'],
  })
  .refine(
    (b) => b.document_id === undefined || b.documentId === undefined || b.document_id === b.documentId,
    {
      message: 'document_id and documentId disagree',
      path: ['documentId'],
    },
  );

export interface OrchestrateRequest {
  readonly documentId: string;
  readonly action: Action;
}

/** Validates the parsed JSON body; snake_case as the existing clients send it, camelCase too. */
export function parseOrchestrateBody(body: unknown): OrchestrateRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest(
      'Request body must be a JSON object like {"document_id": "...", "action": "process_document"}',
    );
  }
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
    throw badRequest(`Invalid request body: ${problems.join('; ')}`, { details: { problems } });
  }
  return {
    documentId: (parsed.data.document_id ?? parsed.data.documentId) as string,
    action: parsed.data.action ?? 'process_document',
  };
}

export function makeOrchestrateHandler(deps: OrchestrateDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const requestId = requestIdFrom(req.headers);
    const instance = req.originalUrl || '/';
    const log = deps.logger.child({ requestId, ...traceFields(req.headers, deps.projectId) });
    try {
      if (req.method !== 'POST') {
        throw methodNotAllowed(`Method ${req.method} is not allowed; use POST`);
      }
      const length = Number(req.headers['content-length'] ?? req.rawBody?.length ?? 0);
      if (length > deps.maxRequestBytes || (req.rawBody?.length ?? 0) > deps.maxRequestBytes) {
        throw contentTooLarge(`Request body exceeds ${deps.maxRequestBytes} bytes`);
      }
      if (!req.is('application/json')) {
        throw unsupportedMediaType('Content-Type must be application/json');
      }
      const request = parseOrchestrateBody(req.body);
      const outcome = await runDocument({ ...deps.pipeline, logger: log }, request);
      res
        .status(200)
        .set('X-Request-ID', requestId)
        .json({ ...outcome, requestId });
    } catch (err) {
      const e = toGraphmillError(err);
      if (e.code === 'internal')
        log.error('request failed', { code: e.code, error: e.message, stack: e.stack });
      else if (e.status >= 500) log.error('request failed', { code: e.code, error: e.message });
      else log.info('request rejected', { code: e.code, status: e.status, error: e.message });
      sendProblem(res, e, instance, requestId, e.code === 'method_not_allowed' ? { Allow: 'POST' } : {});
    }
  };
}
