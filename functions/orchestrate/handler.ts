import type { Request, Response } from '@google-cloud/functions-framework';
import { z } from 'zod';
import {
  badRequest,
  contentTooLarge,
  methodNotAllowed,
  toGraphmillError,
  unsupportedMediaType,
  type GraphmillError,
} from '../../shared/errors';
import {
  boundedList,
  clip,
  describeList,
  MAX_DETAIL_CHARS,
  MAX_LISTED_PROBLEMS,
} from '../../shared/errors/problem';
import { DOCUMENT_ID_PATTERN } from '../../shared/documents/types';
import { sendProblem } from '../../shared/http/problem';
import { requestIdFrom } from '../../shared/http/request';
import { traceFields, type Logger } from '../../shared/logging';
import { ACTIONS, type Action } from '../../shared/pipeline';
import type { Clock } from '../../shared/ports/clock';
import type { Batches, Ingest } from '../../shared/usecases';

export interface OrchestrateDeps {
  readonly ingest: Pick<Ingest, 'runAndRecord'>;
  /** For `submit_batch`; without it the action is refused. */
  readonly batches?: Pick<Batches, 'submit'>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly maxRequestBytes: number;
  /** For the Cloud Logging trace field. */
  readonly projectId?: string | undefined;
}

const documentId = z
  .string({ message: 'must be a string' })
  .regex(DOCUMENT_ID_PATTERN, 'must be 1-256 characters of letters, digits and . _ : @ / -');

const batchSchema = z.object({
  action: z.literal('submit_batch'),
  batch_id: documentId.optional(),
  batchId: documentId.optional(),
  document_ids: z.array(documentId).min(1).max(10_000).optional(),
  documentIds: z.array(documentId).min(1).max(10_000).optional(),
  deadline_seconds: z
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .optional(),
  deadlineSeconds: z
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .optional(),
  correlation_id: z.string().max(128).optional(),
  correlationId: z.string().max(128).optional(),
});

/**
 * A 400 listing the first MAX_LISTED_PROBLEMS issues and counting the rest: 10,000 invalid ids in one
 * body are 10,000 issues, which listed whole made a 40 KB request a 1.6 MB answer and an 800 KB log line.
 */
function invalidBody(what: string, issues: readonly z.core.$ZodIssue[]): GraphmillError {
  const problems = boundedList(
    issues
      .slice(0, MAX_LISTED_PROBLEMS)
      .map((i) => `${i.path.map(String).join('.') || 'body'}: ${i.message}`),
    issues.length,
  );
  return badRequest(`${what}: ${describeList(problems)}`, {
    details: { problems: problems.listed, problemCount: issues.length },
  });
}

export interface SubmitBatchBody {
  readonly action: 'submit_batch';
  readonly batchId: string;
  readonly documentIds: readonly string[];
  readonly deadlineSeconds?: number;
  readonly correlationId?: string;
}

/** `{"action": "submit_batch", "batch_id": "...", "document_ids": [...], "deadline_seconds"?: n}` */
export function parseSubmitBatchBody(body: unknown): SubmitBatchBody {
  const parsed = batchSchema.safeParse(body);
  if (!parsed.success) throw invalidBody('Invalid submit_batch body', parsed.error.issues);
  const b = parsed.data;
  const batchId = b.batch_id ?? b.batchId;
  const documentIds = b.document_ids ?? b.documentIds;
  if (batchId === undefined || documentIds === undefined) {
    throw badRequest('submit_batch needs batch_id and document_ids');
  }
  const deadlineSeconds = b.deadline_seconds ?? b.deadlineSeconds;
  const correlationId = b.correlation_id ?? b.correlationId;
  return {
    action: 'submit_batch',
    batchId,
    documentIds,
    ...(deadlineSeconds !== undefined ? { deadlineSeconds } : {}),
    ...(correlationId !== undefined ? { correlationId } : {}),
  };
}

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
  if (!parsed.success) throw invalidBody('Invalid request body', parsed.error.issues);
  return {
    documentId: (parsed.data.document_id ?? parsed.data.documentId) as string,
    action: parsed.data.action ?? 'process_document',
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

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
      if (isObject(req.body) && req.body['action'] === 'submit_batch') {
        if (!deps.batches) throw badRequest('submit_batch is not available in this deployment');
        const b = parseSubmitBatchBody(req.body);
        const batch = await deps.batches.submit(
          {
            batchId: b.batchId,
            documentIds: b.documentIds,
            correlationId: b.correlationId ?? requestId,
            ...(b.deadlineSeconds !== undefined ? { deadline: deps.clock() + b.deadlineSeconds * 1000 } : {}),
          },
          { logger: log },
        );
        res
          .status(202)
          .set('X-Request-ID', requestId)
          .json({
            status: 'submitted',
            batchId: batch.id,
            units: batch.units.length,
            phases: batch.phases,
            deadline: new Date(batch.deadline).toISOString(),
            requestId,
          });
        return;
      }
      const request = parseOrchestrateBody(req.body);
      const outcome = await deps.ingest.runAndRecord(
        { ...request, correlationId: requestId },
        { logger: log },
      );
      res
        .status(200)
        .set('X-Request-ID', requestId)
        .json({ ...outcome, requestId });
    } catch (err) {
      const e = toGraphmillError(err);
      const error = clip(e.message, MAX_DETAIL_CHARS);
      if (e.code === 'internal') log.error('request failed', { code: e.code, error, stack: e.stack });
      else if (e.status >= 500) log.error('request failed', { code: e.code, error });
      else log.info('request rejected', { code: e.code, status: e.status, error });
      sendProblem(res, e, instance, requestId, e.code === 'method_not_allowed' ? { Allow: 'POST' } : {});
    }
  };
}
