/** `register`, `ingest` (with or without --batch) and `status`. */
import type { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { DOCUMENT_ID_PATTERN } from '../../shared/documents/types';
import type { Batch } from '../../shared/batches/types';
import { badRequest, isStateStoreFull, type GraphmillError } from '../../shared/errors';
import { isGraphOutage } from '../../shared/ports/graph-writer';
import { redactUrl } from '../../shared/secrets/redaction';
import type { Composition } from '../../shared/runtime';
import type { DocumentRecord } from '../../shared/status';
import type { CliContext, CommonOptions } from '../context';
import { positiveInt } from '../context';
import { commonRoot, expandPaths, fileDocument, isRemoteSource, remoteDocument } from '../files';

export interface DocumentSummary {
  documentId: string;
  source: string;
  status: string;
  chunkCount: number;
  durationMs: number;
  error?: { code: string; message: string };
}

/** Local files and directories, plus https:// and gs:// URLs (read later through the guarded sources). */
async function resolveDocuments(ctx: CliContext, args: string[], batchId?: string) {
  const remote = args.filter(isRemoteSource);
  const paths = args.filter((a) => !isRemoteSource(a));
  const files = paths.length > 0 ? await expandPaths(paths, ctx.io.cwd) : [];
  if (files.length === 0 && remote.length === 0) throw badRequest('no files found in the given paths');
  const root = commonRoot(files, ctx.io.cwd);
  const docs = [
    ...files.map((f) => fileDocument(f, root, batchId)),
    ...remote.map((u) => remoteDocument(u, batchId)),
  ];
  for (const d of docs) {
    if (!DOCUMENT_ID_PATTERN.test(d.id)) {
      throw badRequest(`cannot derive a valid document id from ${redactUrl(d.source)} ("${d.id}")`);
    }
  }
  return { docs, root };
}

const summaryOf = (r: DocumentRecord): DocumentSummary => ({
  documentId: r.id,
  source: redactUrl(r.source),
  status: r.status,
  chunkCount: r.chunkCount ?? 0,
  durationMs: r.durationMs ?? 0,
  ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}),
});

export function registerCommand(ctx: CliContext, common: (c: Command) => Command): Command {
  return common(new Command('register'))
    .description('record documents without processing them')
    .argument('<sources...>', 'files, directories, https:// or gs:// URLs')
    .action(async (paths: string[], opts: CommonOptions) => {
      const { docs, root } = await resolveDocuments(ctx, paths);
      const app = ctx.open(opts, { GRAPHMILL_FILE_ROOT: root });
      try {
        const records = await app.documents.register(docs);
        const out: DocumentSummary[] = records.map((r) => ({ ...summaryOf(r), durationMs: 0 }));
        if (opts.json) ctx.print(JSON.stringify({ documents: out }));
        else for (const d of out) ctx.print(`registered ${d.documentId}  (${d.status})`);
      } finally {
        await app.close();
      }
    });
}

interface IngestOptions extends CommonOptions {
  concurrency: number;
  groupSize: number;
  reprocess?: boolean;
  batch?: string;
}

export function ingestCommand(ctx: CliContext, common: (c: Command) => Command): Command {
  return common(new Command('ingest'))
    .description('register documents, then process them (chunk and write to Neo4j)')
    .argument('<sources...>', 'files, directories, https:// or gs:// URLs')
    .option(
      '--concurrency <n>',
      'groups of documents processed at once',
      positiveInt('--concurrency'),
      DEFAULT_CONCURRENCY,
    )
    .option(
      '--group-size <n>',
      'documents per group commit: they share status and Neo4j transactions (1: one at a time)',
      positiveInt('--group-size'),
      DEFAULT_GROUP_SIZE,
    )
    .option('--reprocess', 'rewrite documents even when unchanged')
    .option('--batch <name>', 'submit the documents as a batch through the event pipeline')
    .action(async (paths: string[], opts: IngestOptions) => {
      if (opts.batch !== undefined && !DOCUMENT_ID_PATTERN.test(opts.batch)) {
        throw badRequest('--batch must be 1-256 characters of letters, digits and . _ : @ / -');
      }
      const { docs, root } = await resolveDocuments(ctx, paths, opts.batch);
      const app = ctx.open(opts, { GRAPHMILL_FILE_ROOT: root });
      try {
        // Connecting to Neo4j and checking the schema take a few round trips: start them now, so they
        // overlap the registration below. A failure here is reported by the first write, which retries it.
        app.documents.prepareGraph().catch(() => undefined);
        await app.documents.register(docs);
        const results =
          opts.batch !== undefined
            ? await ingestBatch(
                app,
                opts.batch,
                docs.map((d) => d.id),
              )
            : await ingestDirect(ctx, app, docs, opts);
        const failed = results.filter((r) => r.status === 'failed' || r.status === 'dead_lettered');
        const notAttempted = results.filter((r) => r.status === 'pending').length;
        if (failed.length > 0 || notAttempted > 0) ctx.setExitCode(1);
        if (opts.json) {
          const batch = opts.batch !== undefined ? await app.batches.get(opts.batch) : undefined;
          ctx.print(JSON.stringify({ documents: results, ...(batch ? { batch: batchView(batch) } : {}) }));
        } else {
          for (const r of results) {
            ctx.print(
              `${r.status.padEnd(13)} ${r.documentId}  chunks=${r.chunkCount} ${r.durationMs}ms${r.error ? `  ${r.error.code}: ${r.error.message}` : ''}`,
            );
          }
          const count = (s: string) => results.filter((r) => r.status === s).length;
          ctx.print(
            `\n${count('completed')} completed, ${count('unchanged')} unchanged, ${failed.length} failed` +
              (notAttempted > 0 ? `, ${notAttempted} not attempted (still pending)` : ''),
          );
        }
      } finally {
        await app.close();
      }
    });
}

type CliProgress = typeof import('cli-progress');

/** Documents per group: large enough to share transactions, small enough for a live progress bar. */
export const DEFAULT_GROUP_SIZE = 100;
/** Groups at once: one being written while the next is read and prepared, and one more to cover latency. */
export const DEFAULT_CONCURRENCY = 3;

async function ingestDirect(
  ctx: CliContext,
  app: Composition,
  docs: readonly { id: string; source: string }[],
  opts: IngestOptions,
): Promise<DocumentSummary[]> {
  // Loaded only for a terminal: nothing else needs it.
  const progress = !opts.json && ctx.io.stderr.isTTY ? (require('cli-progress') as CliProgress) : undefined;
  const bar: SingleBar | undefined = progress
    ? new progress.SingleBar(
        { stream: ctx.io.stderr, format: 'ingest [{bar}] {value}/{total} {doc}' },
        progress.Presets.shades_classic,
      )
    : undefined;
  const action = opts.reprocess ? 'reprocess_document' : 'process_document';
  bar?.start(docs.length, 0, { doc: '' });
  const results = new Array<DocumentSummary | undefined>(docs.length);
  let next = 0;
  // A group that found Neo4j unavailable has waited through a whole connect sequence (the connect policy's
  // bounded retries); every later group would wait through one of its own. A full state store fails every
  // later group too. So no group starts after either: the documents left stay registered and pending (never
  // claimed), and the next run takes them up.
  let stop: GraphmillError | undefined;
  const worker = async (): Promise<void> => {
    while (next < docs.length && !stop) {
      const from = next;
      next = Math.min(docs.length, next + opts.groupSize);
      const group = docs.slice(from, next);
      const outcomes = await app.ingest.runAndRecordGroup(group.map((d) => ({ documentId: d.id, action })));
      outcomes.forEach((o, k) => {
        const d = group[k] as { id: string; source: string };
        // A full state store released the document (pending): it was not the document's fault.
        const released = !o.ok && isStateStoreFull(o.error);
        results[from + k] = o.ok
          ? {
              documentId: d.id,
              source: redactUrl(d.source),
              status: o.outcome.status,
              chunkCount: o.outcome.chunkCount,
              durationMs: o.outcome.durationMs,
            }
          : {
              documentId: d.id,
              source: redactUrl(d.source),
              status: released ? 'pending' : 'failed',
              chunkCount: 0,
              durationMs: 0,
              error: { code: o.error.code, message: o.error.message },
            };
        if (!o.ok && (isGraphOutage(o.error) || released)) stop ??= o.error;
      });
      bar?.increment(group.length, { doc: group.at(-1)?.id ?? '' });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, docs.length)) }, worker));
  } finally {
    bar?.stop();
  }
  // Only a stop leaves documents without a result.
  if (stop) ctx.io.stderr.write(`graphmill: ingest stopped: ${stop.message}\n`);
  return docs.map(
    (d, i): DocumentSummary =>
      results[i] ?? {
        documentId: d.id,
        source: redactUrl(d.source),
        status: 'pending',
        chunkCount: 0,
        durationMs: 0,
        ...(stop ? { error: { code: stop.code, message: `not attempted: ${stop.message}` } } : {}),
      },
  );
}

/** Submits a batch on the in-process bus and waits until every delivery has been handled. */
async function ingestBatch(
  app: Composition,
  batchId: string,
  ids: readonly string[],
): Promise<DocumentSummary[]> {
  await app.batches.submit({ batchId, documentIds: ids });
  await app.drain();
  const out: DocumentSummary[] = [];
  for (const id of ids) {
    const r = await app.documents.get(id);
    if (r) out.push(summaryOf(r));
  }
  return out;
}

export function batchView(batch: Batch) {
  return {
    batchId: batch.id,
    status: batch.status,
    units: batch.units.length,
    deadline: new Date(batch.deadline).toISOString(),
    createdAt: new Date(batch.createdAt).toISOString(),
    phases: batch.phases.map((p) => {
      const s = batch.phaseStates[p];
      return {
        phase: p,
        expected: s?.expected ?? batch.units.length,
        succeeded: s?.succeeded ?? 0,
        failed: s?.failed ?? 0,
        ...(s?.triggeredAt !== undefined ? { triggeredAt: new Date(s.triggeredAt).toISOString() } : {}),
      };
    }),
    ...(batch.summary ? { summary: batch.summary } : {}),
    ...(batch.overdueAlertedAt !== undefined
      ? { overdueAlertedAt: new Date(batch.overdueAlertedAt).toISOString() }
      : {}),
  };
}

export function statusCommand(ctx: CliContext, common: (c: Command) => Command): Command {
  return common(new Command('status'))
    .description('show one document, a batch (--batch), or every document')
    .argument('[documentId]')
    .option('--batch <name>', 'show a batch: units and their statuses, per-phase counts, triggers')
    .action(async (documentId: string | undefined, opts: CommonOptions & { batch?: string }) => {
      const app = ctx.open(opts);
      try {
        const status = app.documents;
        if (opts.batch !== undefined) {
          const batch = await app.batches.get(opts.batch);
          if (!batch) {
            ctx.io.stderr.write(`graphmill: batch ${opts.batch} does not exist\n`);
            ctx.setExitCode(1);
            return;
          }
          const units = await Promise.all(
            batch.units.map(async (u) => ({
              documentId: u,
              status: (await status.get(u))?.status ?? 'unknown',
            })),
          );
          const view = { ...batchView(batch), documents: units };
          if (opts.json) ctx.print(JSON.stringify(view));
          else {
            ctx.print(
              `batch ${view.batchId}  ${view.status}  ${view.units} units  deadline ${view.deadline}`,
            );
            for (const p of view.phases) {
              ctx.print(
                `  ${p.phase.padEnd(12)} ${p.succeeded}/${p.expected} succeeded, ${p.failed} failed${p.triggeredAt ? `, completed ${p.triggeredAt}` : ''}`,
              );
            }
          }
          return;
        }
        if (documentId !== undefined) {
          const r = await status.get(documentId);
          if (!r) {
            ctx.io.stderr.write(`graphmill: document ${documentId} is not registered\n`);
            ctx.setExitCode(1);
            return;
          }
          const { content: _content, ...rest } = r;
          const shown = { ...rest, source: redactUrl(r.source) };
          ctx.print(
            opts.json
              ? JSON.stringify(shown)
              : Object.entries(shown)
                  .map(([k, v]) => `${k.padEnd(15)} ${typeof v === 'string' ? v : JSON.stringify(v)}`)
                  .join('\n'),
          );
          return;
        }
        const all = await status.list();
        if (opts.json) {
          ctx.print(
            JSON.stringify({
              documents: all.map(({ content: _c, ...r }: DocumentRecord) => ({
                ...r,
                source: redactUrl(r.source),
              })),
            }),
          );
        } else {
          for (const r of all)
            ctx.print(
              `${r.status.padEnd(13)} ${r.id}  chunks=${r.chunkCount ?? '-'}${r.error ? `  ${r.error.code}` : ''}`,
            );
          ctx.print(`${all.length} documents`);
        }
      } finally {
        await app.close();
      }
    });
}
