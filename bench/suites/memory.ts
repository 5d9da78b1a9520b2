/**
 * 5. Memory: one 100 MiB UTF-8 text document (generated prose and markdown, written to a file) through the
 * whole local pipeline in a fresh process: `graphmill ingest <file> --json` (SQLite state, file:// source,
 * real Neo4j), with bench/probe.ts preloaded. The figure is the kernel's peak RSS of that process
 * (`process.resourceUsage().maxRSS` at exit); the probe's 25 ms samples show where it was reached.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { generateDocument } from '../corpus';
import { benchDriver, cleanBenchData, countBenchGraph, defaultConfig, neo4jEnv } from '../neo4j';
import { fmt, type SuiteContext, type SuiteResult } from '../report';
import { summarize } from '../stats';
import { makeGraphmillWriter } from '../writers';
import { runChild } from './e2e';

export const MEMORY_SEED = 4_242;
export const LIMIT_MIB = 512;

/** Writes a text file of exactly `chars` characters (ASCII-heavy: about as many bytes), 1 MiB at a time. */
export function writeLargeDocument(file: string, chars: number, seed = MEMORY_SEED): number {
  const fd = openSync(file, 'w');
  let written = 0;
  let bytes = 0;
  try {
    for (let i = 0; written < chars; i++) {
      const piece = generateDocument(seed + i, i % 2 === 0 ? 'prose' : 'markdown', 1 << 20);
      const text = (i > 0 ? '\n\n' : '') + piece;
      const part = text.slice(0, chars - written);
      bytes += writeSync(fd, part);
      written += part.length;
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}

interface ProbeReport {
  maxRssKiB: number;
  sampledPeakBytes: {
    rss: number;
    heapUsed: number;
    heapTotal: number;
    external: number;
    arrayBuffers: number;
  };
  samples: number;
  durationMs: number;
  timelineMsMiB: [number, number][];
}

export async function runMemory(ctx: SuiteContext): Promise<SuiteResult> {
  if (!ctx.neo4j) throw new Error('the memory suite needs Neo4j');
  const chars = ctx.quick ? 10 * 1024 * 1024 : 100 * 1024 * 1024;
  const reps = ctx.reps ?? 1;
  const name = `bench-mem-${ctx.runTag}.txt`;
  const dir = mkdtempSync(path.join(ctx.tmpDir, 'memory-'));
  const file = path.join(dir, name);
  const bytes = writeLargeDocument(file, chars);
  ctx.log(
    `memory: one document of ${fmt(bytes / 1048576, 1)} MiB through \`graphmill ingest\`; ${reps} run(s)`,
  );

  const bin = path.join(ctx.repoRoot, 'bin', 'graphmill.js');
  const probe = path.join(ctx.repoRoot, 'dist', 'bench', 'probe.js');
  const driver = benchDriver(ctx.neo4j);
  const prefix = 'bench-mem-';
  const schema = makeGraphmillWriter(defaultConfig(ctx.neo4j));
  try {
    await schema.writer.ensureSchema();
    await schema.close();
    const runs: (ProbeReport & { wallMs: number; chunks: number })[] = [];
    for (let rep = 0; rep < reps; rep++) {
      await cleanBenchData(driver, `${prefix}${ctx.runTag}`);
      const stateDir = mkdtempSync(path.join(ctx.tmpDir, 'memory-state-'));
      const report = path.join(stateDir, 'memory.json');
      const run = await runChild(
        process.execPath,
        ['--require', probe, bin, 'ingest', file, '--json', '--state-dir', stateDir],
        {
          cwd: ctx.repoRoot,
          env: { ...process.env, ...neo4jEnv(ctx.neo4j), LOG_LEVEL: 'warning', BENCH_PROBE_OUT: report },
        },
      );
      if (run.code !== 0)
        throw new Error(`graphmill ingest of ${name} exited with ${run.code}: ${run.stderr.slice(0, 2000)}`);
      const probeReport = JSON.parse(readFileSync(report, 'utf8')) as ProbeReport;
      const graph = await countBenchGraph(driver, `${prefix}${ctx.runTag}`);
      runs.push({ ...probeReport, wallMs: run.ms, chunks: graph.chunks });
      rmSync(stateDir, { recursive: true, force: true });
      ctx.log(
        `  peak RSS ${fmt(probeReport.maxRssKiB / 1024)} MiB, ${fmt(graph.chunks)} chunks in ${fmt(run.ms / 1000, 1)} s`,
      );
    }
    const peak = summarize(runs.map((r) => r.maxRssKiB / 1024));
    const last = runs.at(-1);
    return {
      suite: 'memory',
      rows: [
        {
          suite: 'memory',
          measure: `peak RSS, one ${fmt(chars / 1048576)} MiB document (MiB)`,
          graphmill: fmt(peak.max),
          peer: `limit ${LIMIT_MIB}`,
          ratio: `${(peak.max / LIMIT_MIB).toFixed(2)} of limit`,
          target: `≤ ${LIMIT_MIB} MiB`,
          pass: peak.max <= LIMIT_MIB,
          note: last
            ? `${fmt(last.chunks)} chunks in ${fmt(last.wallMs / 1000, 1)} s; sampled peak heap ${fmt(last.sampledPeakBytes.heapUsed / 1048576)} MiB, external ${fmt(last.sampledPeakBytes.external / 1048576)} MiB`
            : '',
        },
      ],
      details: { bytes, chars, reps, peakRssMiB: peak, runs },
    };
  } finally {
    await cleanBenchData(driver, `${prefix}${ctx.runTag}`).catch(() => undefined);
    await driver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
