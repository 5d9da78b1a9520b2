/**
 * One document through the pipeline: claim -> fetch -> chunk -> write -> record.
 * The same function serves the HTTP function, the event function and the CLI.
 */
import { randomUUID } from 'node:crypto';
import { iterateChunks, type ChunkOptions } from '../chunking';
import { contentHash, decodeText, type DocumentSource } from '../documents';
import { GraphmillError, leaseConflict, notFound, toGraphmillError } from '../errors';
import type { Logger } from '../logging';
import type { GraphWriter } from '../neo4j/graph-writer';
import type { Clock } from '../resilience/time';
import type { DocumentRecord, Stage, StatusStore } from '../status/types';

export const ACTIONS = ['process_document', 'reprocess_document', 'delete_document'] as const;
export type Action = (typeof ACTIONS)[number];

export interface PipelineSettings extends ChunkOptions {
  readonly leaseMs: number;
  readonly maxDocumentBytes: number;
}

export interface PipelineDeps {
  readonly status: StatusStore;
  readonly source: DocumentSource;
  readonly graph: GraphWriter;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: PipelineSettings;
  /** Lease owner ids; injected so tests can name runs. */
  readonly newRunId?: () => string;
}

export interface DocumentRequest {
  readonly documentId: string;
  readonly action: Action;
  /** Overrides the configured chunking for this run (the CLI's --chunk-size / --chunk-overlap). */
  readonly chunking?: ChunkOptions;
  readonly signal?: AbortSignal;
  /** Status a permanent failure leaves (event functions dead-letter it); retryable ones stay `failed`. */
  readonly permanentFailureStatus?: 'failed' | 'dead_lettered';
}

export interface DocumentOutcome {
  readonly status: 'completed' | 'unchanged' | 'deleted';
  readonly documentId: string;
  readonly chunkCount: number;
  readonly durationMs: number;
  readonly contentHash?: string;
}

export async function runDocument(deps: PipelineDeps, request: DocumentRequest): Promise<DocumentOutcome> {
  const { status, clock } = deps;
  const started = clock();
  const runId = deps.newRunId?.() ?? randomUUID();
  const log = deps.logger.child({ documentId: request.documentId, action: request.action });
  const chunking = request.chunking ?? {
    chunkSize: deps.settings.chunkSize,
    chunkOverlap: deps.settings.chunkOverlap,
  };

  const claim = await status.claim(request.documentId, {
    owner: runId,
    leaseMs: deps.settings.leaseMs,
    now: clock(),
  });
  if (claim.outcome === 'not_found') throw notFound(`Document ${request.documentId} is not registered`);
  if (claim.outcome === 'leased') {
    const seconds = Math.max(1, Math.ceil((claim.leaseExpiresAt - clock()) / 1000));
    throw leaseConflict(`Document ${request.documentId} is being processed by another run`, {
      retryAfterSeconds: seconds,
      details: {
        documentId: request.documentId,
        leaseExpiresAt: new Date(claim.leaseExpiresAt).toISOString(),
      },
    });
  }
  const record = claim.record;
  log.debug('claimed', { attempt: record.attempt, runId });

  let stage: Stage = 'fetching';
  const timed = async <T>(s: Stage, work: () => Promise<T>): Promise<T> => {
    stage = s;
    const t0 = clock();
    const result = await work();
    log.info(`stage ${s} done`, { stage: s, durationMs: clock() - t0 });
    return result;
  };

  try {
    if (request.action === 'delete_document') {
      await deps.graph.deleteDocument(record.id);
      await status.delete(record.id);
      const durationMs = clock() - started;
      log.info('document deleted', { durationMs });
      return { status: 'deleted', documentId: record.id, chunkCount: 0, durationMs };
    }

    await status.progress(record.id, runId, 'fetching', 0, clock());
    let bytes: Uint8Array | undefined = await timed('fetching', () =>
      deps.source.fetch(record, {
        maxBytes: deps.settings.maxDocumentBytes,
        ...(request.signal ? { signal: request.signal } : {}),
      }),
    );
    const hash = contentHash(bytes);

    if (request.action === 'process_document') {
      const current = await deps.graph.currentVersion(record.id);
      if (
        current &&
        current.contentHash === hash &&
        current.chunkSize === chunking.chunkSize &&
        current.chunkOverlap === chunking.chunkOverlap
      ) {
        const durationMs = clock() - started;
        await status.complete(
          record.id,
          runId,
          { contentHash: hash, chunkCount: current.chunkCount, ...chunking, durationMs },
          clock(),
        );
        log.info('document unchanged', { durationMs, chunkCount: current.chunkCount });
        return {
          status: 'unchanged',
          documentId: record.id,
          chunkCount: current.chunkCount,
          durationMs,
          contentHash: hash,
        };
      }
    }

    stage = 'chunking';
    const text = decodeText(bytes);
    // The text is all that is needed from here on; letting go of the bytes lowers the peak for large documents.
    bytes = undefined;
    await status.progress(record.id, runId, 'chunking', 0, clock());
    const { chunkCount } = await timed('writing', async () => {
      let lastReported = -1;
      return deps.graph.writeDocument(
        {
          id: record.id,
          ...(record.title !== undefined ? { title: record.title } : {}),
          source: record.source,
          contentHash: hash,
          ...chunking,
          writeToken: runId,
        },
        iterateChunks(text, chunking),
        async ({ textOffset }) => {
          const pct = text.length === 0 ? 100 : Math.floor((textOffset / text.length) * 100);
          if (pct - lastReported >= 5 || pct === 100) {
            lastReported = pct;
            await status.progress(record.id, runId, 'writing', pct, clock());
          }
        },
      );
    });

    const durationMs = clock() - started;
    await timed('recording', () =>
      status.complete(record.id, runId, { contentHash: hash, chunkCount, ...chunking, durationMs }, clock()),
    );
    log.info('document completed', { durationMs, chunkCount });
    return { status: 'completed', documentId: record.id, chunkCount, durationMs, contentHash: hash };
  } catch (err) {
    const e = toGraphmillError(err);
    await recordFailure(
      deps,
      record,
      runId,
      stage,
      e,
      log,
      e.retryable ? 'failed' : (request.permanentFailureStatus ?? 'failed'),
    );
    throw e;
  }
}

async function recordFailure(
  deps: PipelineDeps,
  record: DocumentRecord,
  runId: string,
  stage: Stage,
  e: GraphmillError,
  log: Logger,
  status: 'failed' | 'dead_lettered',
): Promise<void> {
  log.error('document failed', { stage, code: e.code, retryable: e.retryable, error: e.message });
  if (e.code === 'lease_lost') return; // The new lease owner records the outcome.
  try {
    await deps.status.fail(
      record.id,
      runId,
      { stage, code: e.code, message: e.message, retryable: e.retryable },
      deps.clock(),
      status,
    );
  } catch (failErr) {
    // The failure itself is already being reported; a lost lease here means another run took over.
    log.warn('could not record failure', { error: toGraphmillError(failErr).message });
  }
}
