/**
 * One document through the pipeline: claim -> fetch -> chunk -> write -> record.
 * The same function serves the HTTP function, the event function and the CLI.
 */
import { randomUUID } from 'node:crypto';
import { iterateChunksOfPieces, type ChunkOptions } from '../chunking';
import { DECODE_SLICE_BYTES, checkText, contentHash, decodeSlices } from '../documents';
import type { DocumentSource } from '../ports/document-source';
import { GraphmillError, isStateStoreFull, leaseConflict, notFound, toGraphmillError } from '../errors';
import type { Logger } from '../logging';
import { isSameContent, type DocumentMeta, type GraphWriter } from '../ports/graph-writer';
import type { Clock } from '../ports/clock';
import type { ClaimResult, DocumentRecord, Stage } from '../status/types';
import type { StatusStore } from '../ports/status-store';
import { redactUrl } from '../secrets/redaction';
import { DEFAULT_MAX_SAME_WRITE_FAILURES, escalateRepeatedFailure } from './repeated-failure';

export const ACTIONS = ['process_document', 'reprocess_document', 'delete_document'] as const;
export type Action = (typeof ACTIONS)[number];

export interface PipelineSettings extends ChunkOptions {
  readonly leaseMs: number;
  readonly maxDocumentBytes: number;
  /** See escalateRepeatedFailure; default DEFAULT_MAX_SAME_WRITE_FAILURES. */
  readonly maxSameWriteFailures?: number;
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

/** What one run carries through the stages. */
export interface RunContext {
  readonly runId: string;
  readonly started: number;
  readonly log: Logger;
  readonly chunking: ChunkOptions;
}

/** A document already read and checked: its bytes (valid UTF-8 text, no NUL) and their content hash. */
export interface FetchedDocument {
  readonly hash: string;
  readonly bytes: Uint8Array;
}

export function startRun(deps: PipelineDeps, request: DocumentRequest): RunContext {
  return {
    runId: deps.newRunId?.() ?? randomUUID(),
    started: deps.clock(),
    log: deps.logger.child({ documentId: request.documentId, action: request.action }),
    chunking: request.chunking ?? {
      chunkSize: deps.settings.chunkSize,
      chunkOverlap: deps.settings.chunkOverlap,
    },
  };
}

/** The error for a claim that did not succeed: not registered (404) or leased by another run (409). */
export function claimError(
  documentId: string,
  claim: Exclude<ClaimResult, { outcome: 'claimed' }>,
  now: number,
): GraphmillError {
  if (claim.outcome === 'not_found') return notFound(`Document ${documentId} is not registered`);
  const seconds = Math.max(1, Math.ceil((claim.leaseExpiresAt - now) / 1000));
  return leaseConflict(`Document ${documentId} is being processed by another run`, {
    retryAfterSeconds: seconds,
    details: {
      documentId,
      leaseExpiresAt: new Date(claim.leaseExpiresAt).toISOString(),
    },
  });
}

/**
 * Reads a document, hashes it and checks that it is text (strict UTF-8, no NUL bytes) without decoding it:
 * the text is decoded slice by slice as it is chunked, so a large document never exists as one string.
 * `onChecking` is called before the check, whose failure belongs to the chunking stage, not the fetch.
 */
export async function fetchDocument(
  deps: PipelineDeps,
  record: DocumentRecord,
  signal: AbortSignal | undefined,
  maxBytes = deps.settings.maxDocumentBytes,
  onChecking?: () => void,
): Promise<FetchedDocument> {
  const bytes = await deps.source.fetch(record, {
    maxBytes,
    ...(signal ? { signal } : {}),
  });
  const hash = contentHash(bytes);
  onChecking?.();
  checkText(bytes);
  return { hash, bytes };
}

export async function runDocument(deps: PipelineDeps, request: DocumentRequest): Promise<DocumentOutcome> {
  const run = startRun(deps, request);
  const claim = await deps.status.claim(request.documentId, {
    owner: run.runId,
    leaseMs: deps.settings.leaseMs,
    now: deps.clock(),
  });
  if (claim.outcome !== 'claimed') throw claimError(request.documentId, claim, deps.clock());
  run.log.debug('claimed', { attempt: claim.record.attempt, runId: run.runId });
  return processClaimed(deps, request, claim.record, run);
}

/**
 * The stages after a successful claim: fetch (unless `fetched` is given), skip if unchanged, chunk and
 * write, complete. A failure is recorded on the document (failed or dead-lettered) and thrown.
 */
export async function processClaimed(
  deps: PipelineDeps,
  request: DocumentRequest,
  record: DocumentRecord,
  run: RunContext,
  fetched?: FetchedDocument,
): Promise<DocumentOutcome> {
  const { status, clock } = deps;
  const { runId, started, log, chunking } = run;

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

    let doc = fetched;
    if (!doc) {
      await status.progress(record.id, runId, 'fetching', 0, clock());
      doc = await timed('fetching', () =>
        fetchDocument(deps, record, request.signal, deps.settings.maxDocumentBytes, () => {
          stage = 'chunking';
        }),
      );
    }
    const hash = doc.hash;
    const completeUnchanged = async (chunkCount: number): Promise<DocumentOutcome> => {
      const durationMs = clock() - started;
      await status.complete(
        record.id,
        runId,
        { contentHash: hash, chunkCount, ...chunking, durationMs },
        clock(),
      );
      log.info('document unchanged', { durationMs, chunkCount });
      return { status: 'unchanged', documentId: record.id, chunkCount, durationMs, contentHash: hash };
    };

    // The status record remembers what the last completion wrote. When it matches, this is most likely a
    // re-run of unchanged content: one read of the graph confirms it and nothing is chunked, sent or written.
    // Otherwise (the common case, new or changed content) there is no read: the write decides under the
    // document's lock (skipIfUnchanged below), whatever the status store remembers.
    const wanted = { contentHash: hash, ...chunking };
    if (request.action === 'process_document' && isSameContent(record, wanted)) {
      const current = await deps.graph.currentVersion(record.id);
      if (current && isSameContent(current, wanted)) return completeUnchanged(current.chunkCount);
    }

    stage = 'chunking';
    const bytes = doc.bytes;
    // Decoded a slice at a time as the chunker needs it: memory holds the bytes and a window of text.
    let decodedBytes = 0;
    const pieces = (function* () {
      for (const piece of decodeSlices(bytes)) {
        decodedBytes = Math.min(bytes.length, decodedBytes + DECODE_SLICE_BYTES);
        yield piece;
      }
    })();
    // The skip rule (same content, same chunk settings: nothing to write) is decided by the writer: under
    // the document's lock in the write's own statement for a document of one batch, without a read first.
    // Chunking streams into the write, so `writing` is the stage an operator sees for both.
    await status.progress(record.id, runId, 'writing', 0, clock());
    const written = await timed('writing', async () => {
      let lastReported = 0; // `writing` at 0 is recorded above
      return deps.graph.writeDocument(
        documentMeta(record, hash, run),
        iterateChunksOfPieces(pieces, chunking),
        async () => {
          // Called after each staged batch of a multi-batch document: the share decoded so far, at most one
          // slice ahead of the chunks written. The last step is left to the completion, which follows at once.
          const pct = bytes.length === 0 ? 100 : Math.floor((decodedBytes / bytes.length) * 100);
          if (pct - lastReported >= 5 && pct < 100) {
            lastReported = pct;
            await status.progress(record.id, runId, 'writing', pct, clock());
          }
        },
        { skipIfUnchanged: request.action === 'process_document' },
      );
    });
    const { chunkCount } = written;

    if (written.unchanged === true) return completeUnchanged(chunkCount);

    const durationMs = clock() - started;
    await timed('recording', () =>
      status.complete(record.id, runId, { contentHash: hash, chunkCount, ...chunking, durationMs }, clock()),
    );
    log.info('document completed', { durationMs, chunkCount });
    return { status: 'completed', documentId: record.id, chunkCount, durationMs, contentHash: hash };
  } catch (err) {
    const e = escalateRepeatedFailure(
      record,
      stage,
      toGraphmillError(err),
      deps.settings.maxSameWriteFailures ?? DEFAULT_MAX_SAME_WRITE_FAILURES,
    );
    await recordFailure(deps, record, runId, stage, e, log, failureStatus(request, e));
    throw e;
  }
}

/** The document as the graph writer records it; the run's id is the write token. */
export function documentMeta(record: DocumentRecord, hash: string, run: RunContext): DocumentMeta {
  return {
    id: record.id,
    ...(record.title !== undefined ? { title: record.title } : {}),
    source: redactUrl(record.source),
    contentHash: hash,
    ...run.chunking,
    writeToken: run.runId,
  };
}

/** The status a failure leaves: a retryable one stays `failed`, a permanent one what the request asks. */
export const failureStatus = (request: DocumentRequest, e: GraphmillError): 'failed' | 'dead_lettered' =>
  e.retryable ? 'failed' : (request.permanentFailureStatus ?? 'failed');

export async function recordFailure(
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
    const repeats = e.details?.['repeats'];
    await deps.status.fail(
      record.id,
      runId,
      {
        stage,
        code: e.code,
        message: e.message,
        retryable: e.retryable,
        ...(typeof repeats === 'number' ? { repeats } : {}),
      },
      deps.clock(),
      // Nothing is wrong with the document: the run stops and the next one takes it up as new.
      isStateStoreFull(e) ? 'pending' : status,
    );
  } catch (failErr) {
    // The failure itself is already being reported; a lost lease here means another run took over.
    log.warn('could not record failure', { error: toGraphmillError(failErr).message });
  }
}
