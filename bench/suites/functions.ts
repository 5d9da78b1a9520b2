/**
 * The functions' path, for context (the issue sets no target for it): one document per request or event,
 * as `orchestrate` and `ingestEvent` run it. `runAndRecord` (claim, fetch, skip rule, chunk, write,
 * complete, completion ledger) in this process, on a runtime built as the CLI builds it (local SQLite state,
 * `file://` sources, the benchmark's Neo4j), for 300 of the end-to-end documents: one at a time, then 4 at
 * once (a Cloud Run instance serving several requests). Compared with the limit of that mode: the raw
 * statement writing the same chunks, one document per transaction, at the same concurrency. A re-run of
 * the same documents (every one `unchanged`) is timed too. On GCP the state is Firestore and BigQuery, whose
 * round trips this does not include.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { makeLogger } from '../../shared/logging';
import { compose, type Composition } from '../../shared/runtime';
import { benchDriver, cleanBenchData, defaultConfig } from '../neo4j';
import { fmt, fmtRatio, fmtSummary, type Row, type SuiteContext, type SuiteResult } from '../report';
import { forEachConcurrent, measure, runRotated, summarize, type Measured } from '../stats';
import { writeRaw } from '../writers';
import { benchDocuments, buildE2eFiles } from './e2e';
import { verifyGraph } from './writer';

/** Requests at once in the concurrent run: what one instance at a time serves of orchestrate's 8. */
export const CONCURRENT_REQUESTS = 4;

export async function runFunctions(ctx: SuiteContext): Promise<SuiteResult> {
  if (!ctx.neo4j) throw new Error('the functions suite needs Neo4j');
  const count = ctx.quick ? 40 : 300;
  const reps = ctx.reps ?? (ctx.quick ? 1 : 3);
  const prefix = `bench-${ctx.runTag}-fn-`;
  const dir = path.join(ctx.tmpDir, 'functions-docs');
  mkdirSync(dir, { recursive: true });
  const files = buildE2eFiles(prefix, count);
  for (const f of files) writeFileSync(path.join(dir, f.name), f.text);
  const rawDocs = benchDocuments(files, dir);
  ctx.log(`functions: ${count} documents, one per request; ${reps} repetitions after 1 warm-up`);

  const conn = ctx.neo4j;
  const driver = benchDriver(conn);
  const serverCpu = conn.serverCpuMs;
  /** A fresh runtime (fresh state directory) with every document registered: each request claims a new one. */
  const freshRuntime = async (): Promise<{ runtime: Composition; stateDir: string }> => {
    const stateDir = mkdtempSync(path.join(ctx.tmpDir, 'functions-state-'));
    const config = defaultConfig(conn, {
      GRAPHMILL_STATE_DIR: stateDir,
      GRAPHMILL_FILE_ROOT: dir,
      LOG_LEVEL: 'error',
    });
    const runtime = compose(config, makeLogger({ ...config.log, base: {} }), { functionName: 'bench' });
    await runtime.documents.register(rawDocs.map((d) => ({ id: d.meta.id, source: d.meta.source })));
    return { runtime, stateDir };
  };

  type Side = { fresh: Measured; again?: Measured };
  const graphmill = async (concurrency: number): Promise<Side> => {
    await cleanBenchData(driver, prefix);
    const { runtime, stateDir } = await freshRuntime();
    try {
      await runtime.documents.prepareGraph();
      const { ingest } = runtime.forFunction('orchestrate');
      const pass = (expected: string) =>
        measure(
          () =>
            forEachConcurrent(rawDocs, concurrency, async (d) => {
              const outcome = await ingest.runAndRecord({
                documentId: d.meta.id,
                action: 'process_document',
              });
              if (outcome.status !== expected)
                throw new Error(`${d.meta.id}: ${outcome.status}, expected ${expected}`);
            }),
          serverCpu,
        );
      const fresh = await pass('completed');
      await verifyGraph(driver, prefix, rawDocs, "the functions' path");
      const again = await pass('unchanged');
      await verifyGraph(driver, prefix, rawDocs, "the functions' path, re-run");
      return { fresh, again };
    } finally {
      await runtime.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  };
  const raw = async (concurrency: number): Promise<Side> => {
    await cleanBenchData(driver, prefix);
    const fresh = await measure(
      () => writeRaw(driver, rawDocs, { chunksPerTx: 1, sessions: concurrency }),
      serverCpu,
    );
    await verifyGraph(driver, prefix, rawDocs, 'raw, 1 doc/tx');
    return { fresh };
  };

  try {
    const levels = [1, CONCURRENT_REQUESTS];
    const runs = new Map<string, Side[]>();
    const push = (key: string, side: Side) => runs.set(key, [...(runs.get(key) ?? []), side]);
    // Warm-up (JIT, plans, page cache), then the sides alternate inside each repetition.
    await graphmill(1);
    await raw(1);
    for (let rep = 0; rep < reps; rep++) {
      for (const c of levels) {
        const side = (key: 'g' | 'r') => async () => {
          const s = key === 'g' ? await graphmill(c) : await raw(c);
          push(`${key}${c}`, s);
          ctx.log(
            `  ${key === 'g' ? 'graphmill' : 'raw      '} ${c} at once: ${fmt(s.fresh.ms / count, 2)} ms/doc` +
              (s.again ? `, re-run ${fmt(s.again.ms / count, 2)} ms/doc` : ''),
          );
        };
        await runRotated([side('g'), side('r')], rep);
      }
    }
    await cleanBenchData(driver, prefix);

    const perDoc = (sides: readonly Side[], pick: (s: Side) => Measured | undefined) =>
      summarize(
        sides
          .map(pick)
          .filter((m): m is Measured => m !== undefined)
          .map((m) => m.ms / count),
      );
    const serverPerDoc = (sides: readonly Side[]) => {
      const xs = sides.map((s) => s.fresh.serverCpuMs).filter((x): x is number => x !== undefined);
      return xs.length ? summarize(xs.map((x) => x / count)) : undefined;
    };
    const rows: Row[] = [];
    const details: Record<string, unknown> = {
      documents: count,
      reps,
      concurrentRequests: CONCURRENT_REQUESTS,
    };
    for (const c of levels) {
      const g = runs.get(`g${c}`) ?? [];
      const r = runs.get(`r${c}`) ?? [];
      const gMs = perDoc(g, (s) => s.fresh);
      const rMs = perDoc(r, (s) => s.fresh);
      const again = perDoc(g, (s) => s.again);
      const gCpu = serverPerDoc(g);
      const rCpu = serverPerDoc(r);
      const ratio = rMs.median / gMs.median; // docs/s graphmill over docs/s raw
      rows.push({
        suite: 'functions',
        measure: `functions' path (\`ingest.runAndRecord\`), one document per request, ${c === 1 ? 'one at a time' : `${c} at once`} (ms per doc)`,
        graphmill: fmtSummary(gMs, 2),
        peer: `raw, 1 doc/tx ${fmtSummary(rMs, 2)}`,
        ratio: fmtRatio(ratio),
        target: 'context',
        pass: undefined,
        note:
          `${count} new documents, local state; a re-run (all unchanged) ${fmt(again.median, 2)} ms/doc` +
          (gCpu && rCpu ? `; Neo4j CPU ms per doc ${fmt(gCpu.median, 2)} vs ${fmt(rCpu.median, 2)}` : ''),
      });
      details[`concurrency${c}`] = {
        graphmillMsPerDoc: gMs,
        rawMsPerDoc: rMs,
        rerunMsPerDoc: again,
        ratio,
        serverCpuMsPerDoc: { graphmill: gCpu, raw: rCpu },
      };
    }
    return { suite: 'functions', rows, details };
  } finally {
    await driver.close();
  }
}
