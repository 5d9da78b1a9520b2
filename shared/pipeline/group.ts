/**
 * Group commit: many documents through the pipeline together, for `graphmill ingest`. Per group there is
 * one status transaction to claim every document, then one Neo4j transaction per `maxGroupChunks` chunks of
 * small documents (writeDocuments), each followed by one status transaction that completes the documents
 * it wrote, instead of about eight status transactions and one Neo4j transaction per document. Each
 * document keeps its own lease, its own outcome and its own failure: what a group changes is how many
 * documents share a transaction.
 *
 * Documents that do not fit one write batch (or are empty), and delete actions, go through the
 * single-document path (runDocument / processClaimed), which streams and reports progress.
 */
import { iterateChunks, type Chunk } from '../chunking';
import { decodeCheckedText } from '../documents';
import { toGraphmillError, type GraphmillError } from '../errors';
import { isGraphOutage } from '../ports/graph-writer';
import type { DocumentWrite, DocumentWriteResult } from '../ports/graph-writer';
import { claimAll, completeAll } from '../status/batch';
import type { DocumentRecord, Stage } from '../status/types';
import {
  claimError,
  documentMeta,
  failureStatus,
  fetchDocument,
  processClaimed,
  recordFailure,
  runDocument,
  startRun,
  type DocumentOutcome,
  type DocumentRequest,
  type FetchedDocument,
  type PipelineDeps,
  type RunContext,
} from './process-document';
import { DEFAULT_MAX_SAME_WRITE_FAILURES, escalateRepeatedFailure } from './repeated-failure';

export interface GroupOptions {
  /** Chunks of small documents written per Neo4j transaction. */
  readonly maxGroupChunks: number;
}

export type GroupResult =
  | { readonly ok: true; readonly outcome: DocumentOutcome }
  | { readonly ok: false; readonly error: GraphmillError };

interface Prepared {
  readonly index: number;
  readonly request: DocumentRequest;
  readonly record: DocumentRecord;
  readonly run: RunContext;
  readonly hash: string;
  readonly chunks: readonly Chunk[];
}

/** Documents read ahead of the one being chunked, so that file and network reads overlap the work. */
const FETCH_AHEAD = 3;
/** A document read ahead may be at most this large; memory stays bounded whatever the files. */
const PREFETCH_MAX_BYTES = 4 << 20;

const failed = (error: unknown): GroupResult => ({ ok: false, error: toGraphmillError(error) });

/** At most `limit` + 1 chunks: enough to tell whether the document fits one batch. */
function firstChunks(text: string, run: RunContext, limit: number): Chunk[] {
  const out: Chunk[] = [];
  for (const c of iterateChunks(text, run.chunking)) {
    out.push(c);
    if (out.length > limit) break;
  }
  return out;
}

/** Runs every request; results are in request order and never throw (each carries its own error). */
export async function runDocumentGroup(
  deps: PipelineDeps,
  requests: readonly DocumentRequest[],
  options: GroupOptions,
): Promise<GroupResult[]> {
  const { status, clock } = deps;
  const results = new Array<GroupResult>(requests.length);
  const settle = async (index: number, work: () => Promise<DocumentOutcome>): Promise<void> => {
    try {
      results[index] = { ok: true, outcome: await work() };
    } catch (err) {
      results[index] = failed(err);
    }
  };

  // Deletes are rare and have nothing to share: the single path.
  const runs: { index: number; request: DocumentRequest; run: RunContext }[] = [];
  for (const [index, request] of requests.entries()) {
    if (request.action === 'delete_document') await settle(index, () => runDocument(deps, request));
    else runs.push({ index, request, run: startRun(deps, request) });
  }
  if (runs.length === 0) return results;

  let claims;
  try {
    claims = await claimAll(
      status,
      runs.map((r) => ({ id: r.request.documentId, owner: r.run.runId })),
      { leaseMs: deps.settings.leaseMs, now: clock() },
    );
  } catch (err) {
    for (const r of runs) results[r.index] = failed(err);
    return results;
  }

  // Two overlaps keep both Neo4j and this process busy: the next documents are read while the current one
  // is chunked (a window of FETCH_AHEAD), and the next group of chunks is prepared while the previous one
  // is being written (one write in flight).
  let pending: Prepared[] = [];
  let pendingChunks = 0;
  let writing: Promise<void> = Promise.resolve();
  const state: WriteState = {};
  const flush = async (): Promise<void> => {
    const group = pending;
    pending = [];
    pendingChunks = 0;
    await writing;
    if (group.length > 0) writing = writeGroup(deps, group, results, state);
  };

  const claimed: { index: number; request: DocumentRequest; run: RunContext; record: DocumentRecord }[] = [];
  for (const [k, { index, request, run }] of runs.entries()) {
    const claim = claims[k];
    if (claim?.outcome === 'claimed') claimed.push({ index, request, run, record: claim.record });
    else {
      results[index] = failed(
        claim ? claimError(request.documentId, claim, clock()) : new Error('claim result missing'),
      );
    }
  }
  // A read ahead is capped at PREFETCH_MAX_BYTES, so a few large files cannot be held at once. A document
  // whose read ahead failed (too large for it, or any other failure) is read again in its turn, with the
  // full limit, and that read's failure is the one recorded.
  const fetches = new Array<Promise<FetchedDocument | undefined> | undefined>(claimed.length);
  const prefetch = (k: number): void => {
    const c = claimed[k];
    if (!c || fetches[k]) return;
    const limit = Math.min(PREFETCH_MAX_BYTES, deps.settings.maxDocumentBytes);
    // Any failure is left to the read in turn, which records it with its stage.
    const f = fetchDocument(deps, c.record, c.request.signal, limit).catch(() => undefined);
    fetches[k] = f;
  };

  for (const [k, { index, request, run, record }] of claimed.entries()) {
    for (let ahead = k + 1; ahead <= k + FETCH_AHEAD; ahead++) prefetch(ahead);
    let fetched: FetchedDocument;
    let chunks: Chunk[];
    let stage: Stage = 'fetching';
    const checking = (): void => {
      stage = 'chunking';
    };
    try {
      const early = fetches[k];
      fetches[k] = undefined;
      fetched =
        (await early) ??
        (await fetchDocument(deps, record, request.signal, deps.settings.maxDocumentBytes, checking));
      stage = 'chunking';
      // A document larger than a read ahead is left to the single path, which decodes it slice by slice.
      chunks =
        fetched.bytes.length > PREFETCH_MAX_BYTES
          ? []
          : firstChunks(decodeCheckedText(fetched.bytes), run, deps.graph.batchSize);
    } catch (err) {
      const e = toGraphmillError(err);
      await recordFailure(deps, record, run.runId, stage, e, run.log, failureStatus(request, e));
      results[index] = { ok: false, error: e };
      continue;
    }
    if (chunks.length === 0 || chunks.length > deps.graph.batchSize) {
      // Empty, large or more than one batch of chunks: the single path streams it and reports progress.
      const doc = fetched;
      await settle(index, () => processClaimed(deps, request, record, run, doc));
      continue;
    }
    pending.push({ index, request, record, run, hash: fetched.hash, chunks });
    pendingChunks += chunks.length;
    if (pendingChunks >= options.maxGroupChunks) await flush();
  }
  await flush();
  await writing;
  return results;
}

const toWrite = (p: Prepared): DocumentWrite => ({
  meta: documentMeta(p.record, p.hash, p.run),
  chunks: p.chunks,
  skipIfUnchanged: p.request.action === 'process_document',
});

/** What one group's writes share. */
interface WriteState {
  /**
   * Set once a write found Neo4j unavailable after the access's own connect retries: the group's later
   * writes fail with it at once instead of each waiting through another connect sequence.
   */
  unavailable?: GraphmillError;
}

/**
 * Writes a group in one transaction and completes its documents in one status transaction. If the
 * transaction fails for a reason that retrying cannot fix (a document too large for the server's
 * transaction memory, a bad document), each document is written alone so that only the culprit fails; a
 * retryable failure (Neo4j unavailable) fails the whole group at once, without hammering the server.
 */
async function writeGroup(
  deps: PipelineDeps,
  group: readonly Prepared[],
  results: GroupResult[],
  state: WriteState,
): Promise<void> {
  const { clock } = deps;
  const written: { p: Prepared; w: DocumentWriteResult }[] = [];
  const fail = async (p: Prepared, err: unknown): Promise<void> => {
    // Counted as a repeat only when it failed during this document's own statement (a group that failed
    // that way is split first, below, so the culprit is known).
    const e = escalateRepeatedFailure(
      p.record,
      'writing',
      toGraphmillError(err),
      deps.settings.maxSameWriteFailures ?? DEFAULT_MAX_SAME_WRITE_FAILURES,
    );
    await recordFailure(deps, p.record, p.run.runId, 'writing', e, p.run.log, failureStatus(p.request, e));
    results[p.index] = { ok: false, error: e };
  };
  if (state.unavailable) {
    for (const p of group) await fail(p, state.unavailable);
    return;
  }

  try {
    const out = await deps.graph.writeDocuments(group.map(toWrite));
    out.forEach((w, i) => written.push({ p: group[i] as Prepared, w }));
  } catch (err) {
    const e = toGraphmillError(err);
    // A retryable failure while the group's statement ran may be one document's doing (it takes the server's
    // memory or the connection down every time): split like a permanent failure, so that only the culprit
    // fails and its repeats are counted. One that never reached a statement is an outage: fail them all.
    const duringStatement = e.details?.['duringStatement'] === true;
    if (isGraphOutage(e)) state.unavailable = e;
    if (group.length === 1 || (e.retryable && !duringStatement)) {
      for (const p of group) await fail(p, e);
      return;
    }
    deps.logger.warn('group write failed; writing its documents one by one', {
      documents: group.length,
      code: e.code,
      error: e.message,
    });
    for (const p of group) {
      if (state.unavailable) {
        await fail(p, state.unavailable);
        continue;
      }
      try {
        const [w] = await deps.graph.writeDocuments([toWrite(p)]);
        if (w) written.push({ p, w });
      } catch (single) {
        const s = toGraphmillError(single);
        if (isGraphOutage(s)) state.unavailable = s;
        await fail(p, s);
      }
    }
  }
  if (written.length === 0) return;

  const now = clock();
  const updates = written.map(({ p, w }) => ({
    id: p.record.id,
    owner: p.run.runId,
    update: {
      contentHash: p.hash,
      chunkCount: w.chunkCount,
      ...p.run.chunking,
      durationMs: now - p.run.started,
    },
  }));
  let errors: (Error | undefined)[];
  try {
    errors = await completeAll(deps.status, updates, now);
  } catch (err) {
    // The graph holds the documents, the status store could not record it: each is failed (retryable),
    // and the next run finds the content unchanged and completes it.
    const e = toGraphmillError(err);
    for (const { p } of written) {
      await recordFailure(deps, p.record, p.run.runId, 'recording', e, p.run.log, 'failed');
      results[p.index] = { ok: false, error: e };
    }
    return;
  }
  for (const [i, { p, w }] of written.entries()) {
    const error = errors[i];
    if (error) {
      const e = toGraphmillError(error);
      // A lost lease belongs to the run that took the document over; any other failure is this run's to record.
      await recordFailure(deps, p.record, p.run.runId, 'recording', e, p.run.log, 'failed');
      results[p.index] = { ok: false, error: e };
      continue;
    }
    const outcome: DocumentOutcome = {
      status: w.outcome === 'unchanged' ? 'unchanged' : 'completed',
      documentId: p.record.id,
      chunkCount: w.chunkCount,
      durationMs: updates[i]?.update.durationMs ?? 0,
      contentHash: p.hash,
    };
    p.run.log.info(outcome.status === 'unchanged' ? 'document unchanged' : 'document completed', {
      durationMs: outcome.durationMs,
      chunkCount: outcome.chunkCount,
    });
    results[p.index] = { ok: true, outcome };
  }
}
