/**
 * 3. End to end: `graphmill ingest <dir> --json --state-dir <fresh dir>` on 1,000 generated documents
 * (~10 MB: prose .txt, markdown .md, code .src), run as a child process of the built CLI (bin/graphmill.js)
 * with the local SQLite state store and the benchmark's Neo4j. The time is the child's wall time, spawn to
 * exit: what a user waits for, process start included (reported separately). Compared with the raw baseline
 * writing the same chunks (graphmill's chunker at the CLI's defaults 1000/200) for the same document ids;
 * the raw time is the write only.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { chunkText } from '../../functions/index';
import { generateDocument, makeRng, type DocKind } from '../corpus';
import { benchDriver, cleanBenchData, defaultConfig, neo4jEnv } from '../neo4j';
import { fmt, fmtRatio, fmtSummary, type SuiteContext, type SuiteResult } from '../report';
import { measure, nowMs, runRotated, summarize, type Summary } from '../stats';
import { chunkCount, makeGraphmillWriter, writeRaw, type BenchDocument } from '../writers';
import { CHUNKING } from './chunker';
import { RAW_OPTIONS, verifyGraph } from './writer';

export const E2E_SEED = 31_337;
const EXT: Record<DocKind, string> = { prose: 'txt', markdown: 'md', code: 'src' };

export interface E2eFile {
  readonly name: string;
  readonly kind: DocKind;
  readonly text: string;
}

/** `count` documents of log-uniform sizes in [5,000, 17,000] characters (mean ≈ 10 KB). */
export function buildE2eFiles(prefix: string, count: number, seed = E2E_SEED): E2eFile[] {
  const r = makeRng(seed);
  const files: E2eFile[] = [];
  for (let i = 0; i < count; i++) {
    const roll = r.next();
    const kind: DocKind = roll < 0.4 ? 'prose' : roll < 0.8 ? 'markdown' : 'code';
    const size = Math.round(5000 * Math.pow(17000 / 5000, r.next()));
    files.push({
      name: `${prefix}${String(i).padStart(4, '0')}.${EXT[kind]}`,
      kind,
      text: generateDocument(r.int(0, 0xffffffff), kind, size),
    });
  }
  return files;
}

/**
 * The files as the raw baseline writes them: graphmill's chunks (1000/200), with the ids the CLI derives
 * (the file name under the common root `dir`).
 */
export function benchDocuments(files: readonly E2eFile[], dir: string): BenchDocument[] {
  return files.map((f) => ({
    meta: {
      id: f.name,
      title: f.name,
      source: `file://${path.join(dir, f.name)}`,
      contentHash: 'sha256:-',
      ...CHUNKING,
    },
    chunks: chunkText(f.text, CHUNKING),
  }));
}

interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runChild(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: nowMs() - t0,
      });
    });
  });
}

interface IngestSummary {
  documents: { documentId: string; status: string; chunkCount: number }[];
}

export async function runE2e(ctx: SuiteContext): Promise<SuiteResult> {
  if (!ctx.neo4j) throw new Error('the e2e suite needs Neo4j');
  const count = ctx.quick ? 100 : 1000;
  // Six repetitions: each of the three sides goes first twice (runRotated), and the in-process raw write,
  // the shortest of them, moves by ±25% from one repetition to the next on the shared 2-core machine.
  const reps = ctx.reps ?? (ctx.quick ? 1 : 6);
  const prefix = `bench-e2e-${ctx.runTag}-`;
  const files = buildE2eFiles(prefix, count);
  const dir = path.join(ctx.tmpDir, 'e2e-docs');
  const warmDir = path.join(ctx.tmpDir, 'e2e-warm');
  mkdirSync(dir, { recursive: true });
  mkdirSync(warmDir, { recursive: true });
  for (const f of files) writeFileSync(path.join(dir, f.name), f.text);
  const warmFiles = files.slice(0, Math.max(1, Math.floor(count / 10)));
  for (const f of warmFiles) writeFileSync(path.join(warmDir, f.name), f.text);
  const bytes = files.reduce((n, f) => n + Buffer.byteLength(f.text, 'utf8'), 0);

  const rawDocs = benchDocuments(files, dir);
  const chunks = chunkCount(rawDocs);
  ctx.log(
    `e2e: ${count} documents, ${fmt(bytes / 1e6, 1)} MB, ${fmt(chunks)} chunks; ${reps} repetitions after 1 warm-up (${warmFiles.length} documents)`,
  );

  const bin = path.join(ctx.repoRoot, 'bin', 'graphmill.js');
  const env: NodeJS.ProcessEnv = { ...process.env, ...neo4jEnv(ctx.neo4j), LOG_LEVEL: 'warning' };
  const driver = benchDriver(ctx.neo4j);
  // The schema must exist before the first timed run of either side.
  const schema = makeGraphmillWriter(defaultConfig(ctx.neo4j));
  try {
    await schema.writer.ensureSchema();
    await schema.close();
    const clean = () => cleanBenchData(driver, prefix);

    const probe = path.join(ctx.repoRoot, 'dist', 'bench', 'probe.js');
    const serverCpu = ctx.neo4j.serverCpuMs;
    interface Run {
      ms: number;
      clientCpuMs: number;
      serverCpuMs: number | undefined;
    }
    const ingest = async (from: string, expected: number): Promise<Run> => {
      await clean();
      const stateDir = mkdtempSync(path.join(ctx.tmpDir, 'e2e-state-'));
      const report = path.join(stateDir, 'probe.json');
      const s0 = serverCpu?.();
      const run = await runChild(
        process.execPath,
        ['--require', probe, bin, 'ingest', from, '--json', '--state-dir', stateDir],
        {
          cwd: ctx.repoRoot,
          env: { ...env, BENCH_PROBE_OUT: report },
        },
      );
      const s1 = serverCpu?.();
      if (run.code !== 0)
        throw new Error(`graphmill ingest exited with ${run.code}: ${run.stderr.slice(0, 2000)}`);
      const { cpuMs } = JSON.parse(readFileSync(report, 'utf8')) as { cpuMs: number };
      rmSync(stateDir, { recursive: true, force: true });
      const summary = JSON.parse(run.stdout) as IngestSummary;
      const completed = summary.documents.filter((d) => d.status === 'completed').length;
      if (completed !== expected)
        throw new Error(`graphmill ingest completed ${completed} of ${expected} documents`);
      return {
        ms: run.ms,
        clientCpuMs: cpuMs,
        serverCpuMs: s0 !== undefined && s1 !== undefined ? s1 - s0 : undefined,
      };
    };
    const raw = async (set: readonly BenchDocument[]): Promise<Run> => {
      await clean();
      const m = await measure(() => writeRaw(driver, set, RAW_OPTIONS), serverCpu);
      await verifyGraph(driver, prefix, set, 'raw');
      return m;
    };

    const rawChild = path.join(ctx.repoRoot, 'dist', 'bench', 'raw-child.js');
    const rawProcess = async (from: string, set: readonly BenchDocument[]): Promise<Run> => {
      await clean();
      const report = path.join(ctx.tmpDir, 'raw-child-probe.json');
      const s0 = serverCpu?.();
      const run = await runChild(
        process.execPath,
        ['--require', probe, rawChild, from, String(RAW_OPTIONS.chunksPerTx), String(RAW_OPTIONS.sessions)],
        { cwd: ctx.repoRoot, env: { ...env, BENCH_PROBE_OUT: report } },
      );
      const s1 = serverCpu?.();
      if (run.code !== 0) throw new Error(`raw script exited with ${run.code}: ${run.stderr.slice(0, 2000)}`);
      await verifyGraph(driver, prefix, set, 'raw script');
      const { cpuMs } = JSON.parse(readFileSync(report, 'utf8')) as { cpuMs: number };
      return {
        ms: run.ms,
        clientCpuMs: cpuMs,
        serverCpuMs: s0 !== undefined && s1 !== undefined ? s1 - s0 : undefined,
      };
    };

    await ingest(warmDir, warmFiles.length);
    await raw(rawDocs.slice(0, warmFiles.length));
    await rawProcess(warmDir, rawDocs.slice(0, warmFiles.length));
    const eRuns: Run[] = [];
    const rRuns: Run[] = [];
    const pRuns: Run[] = [];
    const cpuText = (r: Run): string =>
      r.serverCpuMs === undefined
        ? ''
        : ` (CPU: Neo4j ${fmt(r.serverCpuMs)} ms, client ${fmt(r.clientCpuMs)} ms)`;
    for (let rep = 0; rep < reps; rep++) {
      const e = async () => {
        const run = await ingest(dir, count);
        eRuns.push(run);
        await verifyGraph(driver, prefix, rawDocs, 'graphmill ingest');
        ctx.log(`  ingest ${fmt((count / run.ms) * 1000, 1)} docs/s${cpuText(run)}`);
      };
      const r = async () => {
        const run = await raw(rawDocs);
        rRuns.push(run);
        ctx.log(`  raw    ${fmt((count / run.ms) * 1000, 1)} docs/s${cpuText(run)}`);
      };
      const p = async () => {
        const run = await rawProcess(dir, rawDocs);
        pRuns.push(run);
        ctx.log(`  script ${fmt((count / run.ms) * 1000, 1)} docs/s${cpuText(run)} (raw, as a process)`);
      };
      await runRotated([e, r, p], rep);
    }
    const eTimes = eRuns.map((r) => r.ms);
    const rTimes = rRuns.map((r) => r.ms);
    const cpuPerDoc = (runs: readonly Run[], pick: (r: Run) => number | undefined): Summary | null => {
      const xs = runs.map(pick).filter((x): x is number => x !== undefined);
      return xs.length ? summarize(xs.map((x) => x / count)) : null;
    };
    const cpu = {
      cli: {
        serverMsPerDoc: cpuPerDoc(eRuns, (r) => r.serverCpuMs),
        clientMsPerDoc: cpuPerDoc(eRuns, (r) => r.clientCpuMs),
      },
      raw: {
        serverMsPerDoc: cpuPerDoc(rRuns, (r) => r.serverCpuMs),
        clientMsPerDoc: cpuPerDoc(rRuns, (r) => r.clientCpuMs),
      },
    };
    await clean();

    // Process start and CLI module loading, for context: `graphmill --help` does nothing else.
    const startup = summarize(
      await (async () => {
        const times: number[] = [];
        for (let i = 0; i < 3; i++)
          times.push((await runChild(process.execPath, [bin, '--help'], { cwd: ctx.repoRoot, env })).ms);
        return times;
      })(),
    );

    const e = summarize(eTimes.map((ms) => (count / ms) * 1000));
    const r = summarize(rTimes.map((ms) => (count / ms) * 1000));
    const ratio = e.median / r.median;
    const pTimes = pRuns.map((run) => run.ms);
    const rp = summarize(pTimes.map((ms) => (count / ms) * 1000));
    const processRatio = e.median / rp.median;
    // The sides alternate inside each repetition, so a repetition's own ratio sees the same background load.
    const perRep = (peer: readonly number[]): string => {
      const rs = eTimes.map((ms, i) => (peer[i] ?? Number.NaN) / ms);
      return `per-rep ratio ${fmtRatio(Math.min(...rs))}–${fmtRatio(Math.max(...rs))}`;
    };
    return {
      suite: 'e2e',
      rows: [
        {
          suite: 'e2e',
          measure: `\`graphmill ingest\` ${fmt(count)} docs vs raw (docs/s)`,
          graphmill: fmtSummary(e, 1),
          peer: `raw ${fmtSummary(r, 1)}`,
          ratio: fmtRatio(ratio),
          target: '≥ 0.7×',
          pass: ratio >= 0.7,
          note:
            `${fmt(bytes / 1e6, 1)} MB, ${fmt(chunks)} chunks; ${perRep(rTimes)}; CLI process start ${fmt(startup.median)} ms included` +
            (cpu.cli.serverMsPerDoc &&
            cpu.raw.serverMsPerDoc &&
            cpu.cli.clientMsPerDoc &&
            cpu.raw.clientMsPerDoc
              ? `; CPU ms per doc, Neo4j ${fmt(cpu.cli.serverMsPerDoc.median, 2)} vs ${fmt(cpu.raw.serverMsPerDoc.median, 2)}, client ${fmt(cpu.cli.clientMsPerDoc.median, 2)} vs ${fmt(cpu.raw.clientMsPerDoc.median, 2)}`
              : ''),
        },
        {
          suite: 'e2e',
          measure: `\`graphmill ingest\` vs a raw script, both as processes (docs/s)`,
          graphmill: fmtSummary(e, 1),
          peer: `raw script ${fmtSummary(rp, 1)}`,
          ratio: fmtRatio(processRatio),
          target: 'context',
          pass: undefined,
          note: `the same files; the script reads, chunks and writes with the raw statement, spawn to exit (bench/raw-child.ts); ${perRep(pTimes)}`,
        },
      ],
      details: {
        documents: count,
        bytes,
        chunks,
        reps,
        warmupDocuments: warmFiles.length,
        cli: { settings: 'defaults', wallMs: summarize(eTimes), docsPerSecond: e },
        raw: { ...RAW_OPTIONS, writeMs: summarize(rTimes), docsPerSecond: r },
        rawScript: { ...RAW_OPTIONS, wallMs: summarize(pTimes), docsPerSecond: rp },
        ratio,
        processRatio,
        cpu,
        cliStartupMs: startup,
      },
    };
  } finally {
    await cleanBenchData(driver, prefix).catch(() => undefined);
    await driver.close();
  }
}
