/**
 * `npm run bench`: measures graphmill against its peers and limits in one run, prints a markdown table on
 * stdout (progress goes to stderr) and writes everything measured to bench/results/<timestamp>.json and
 * bench/results/latest.json. The method is in docs/performance.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SUITES, USAGE, UsageError, parseBenchArgs, type Suite } from './args';
import { benchDriver, connectBenchNeo4j, type BenchNeo4j } from './neo4j';
import { markdownTable, type Row, type SuiteContext, type SuiteResult } from './report';
import { runChunker } from './suites/chunker';
import { runColdstart } from './suites/coldstart';
import { runE2e } from './suites/e2e';
import { runFunctions } from './suites/functions';
import { runMemory } from './suites/memory';
import { runWriter } from './suites/writer';

const RUNNERS: Record<Suite, (ctx: SuiteContext) => Promise<SuiteResult>> = {
  chunker: runChunker,
  writer: runWriter,
  e2e: runE2e,
  functions: runFunctions,
  coldstart: runColdstart,
  memory: runMemory,
};
const NEEDS_NEO4J: ReadonlySet<Suite> = new Set<Suite>(['writer', 'e2e', 'functions', 'memory']);

async function neo4jInfo(conn: BenchNeo4j): Promise<Record<string, unknown>> {
  const driver = benchDriver(conn, 1);
  try {
    const { records } = await driver.executeQuery(
      'CALL dbms.components() YIELD name, versions, edition RETURN *',
    );
    const r = records[0];
    return {
      source: conn.source,
      host: new URL(conn.uri).host,
      name: r?.get('name'),
      versions: r?.get('versions'),
      edition: r?.get('edition'),
    };
  } finally {
    await driver.close();
  }
}

function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model,
    totalMemMiB: Math.round(os.totalmem() / 1048576),
    node: process.version,
    v8: process.versions.v8,
    exposeGc: typeof (globalThis as { gc?: unknown }).gc === 'function',
  };
}

export async function runBench(argv: readonly string[]): Promise<number> {
  let options;
  try {
    options = parseBenchArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const repoRoot = path.resolve(__dirname, '..', '..');
  const log = (line: string): void => {
    process.stderr.write(`[bench] ${line}\n`);
  };
  const selected = SUITES.filter((s) => options.only.has(s));
  const started = new Date();
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'graphmill-bench-'));
  const runTag = randomBytes(3).toString('hex');
  let neo4j: BenchNeo4j | undefined;
  const results: SuiteResult[] = [];
  const errors: Record<string, string> = {};
  const loadBefore = os.loadavg();
  let neo4jDescription: Record<string, unknown> | undefined;
  try {
    if (selected.some((s) => NEEDS_NEO4J.has(s))) {
      try {
        neo4j = await connectBenchNeo4j(repoRoot, log);
        neo4jDescription = await neo4jInfo(neo4j);
        log(
          `neo4j ${String(neo4jDescription['versions'])} ${String(neo4jDescription['edition'])} at ${String(neo4jDescription['host'])} (${neo4j.source})`,
        );
      } catch (err) {
        // The suites without Neo4j still run; the others report this error.
        log(`no Neo4j: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const ctx: SuiteContext = {
      repoRoot,
      quick: options.quick,
      reps: options.reps,
      log,
      neo4j,
      tmpDir,
      runTag,
    };
    for (const suite of selected) {
      const t0 = performance.now();
      log(`--- ${suite}`);
      try {
        if (NEEDS_NEO4J.has(suite) && !neo4j) throw new Error('Neo4j is not available (see the log above)');
        results.push(await RUNNERS[suite](ctx));
      } catch (err) {
        errors[suite] = err instanceof Error ? (err.stack ?? err.message) : String(err);
        log(`${suite} failed: ${errors[suite]}`);
      }
      log(`--- ${suite} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await neo4j?.release();
    rmSync(tmpDir, { recursive: true, force: true });
  }

  const rows: Row[] = results.flatMap((r) => r.rows);
  for (const [suite, message] of Object.entries(errors)) {
    rows.push({
      suite: suite as Suite,
      measure: `${suite}: ERROR`,
      graphmill: '',
      peer: '',
      ratio: '',
      target: '',
      pass: false,
      note: message.split('\n')[0] ?? '',
    });
  }
  const finished = new Date();
  const table = markdownTable(rows);
  const durationS = (finished.getTime() - started.getTime()) / 1000;
  const header = `graphmill benchmark ${started.toISOString()}${options.quick ? ' (QUICK: smoke run, not comparable)' : ''} — ${durationS.toFixed(0)} s, ${os.cpus().length} CPUs, node ${process.version}, load ${loadBefore.map((l) => l.toFixed(1)).join('/')} → ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join('/')}`;
  process.stdout.write(`${header}\n\n${table}\n`);

  const json = {
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationS,
    options: { quick: options.quick, only: selected, reps: options.reps ?? null },
    machine: { ...machine(), loadAvgBefore: loadBefore, loadAvgAfter: os.loadavg() },
    neo4j: neo4jDescription ?? null,
    rows,
    table,
    errors,
    suites: Object.fromEntries(results.map((r) => [r.suite, r.details])),
  };
  const dir = path.join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const text = `${JSON.stringify(json, null, 2)}\n`;
  const file = `${stamp}${options.quick ? '-quick' : ''}.json`;
  writeFileSync(path.join(dir, file), text);
  // A smoke run never replaces the figures of the last real run.
  if (!options.quick) writeFileSync(path.join(dir, 'latest.json'), text);
  log(`results: bench/results/${file}${options.quick ? '' : ' and bench/results/latest.json'}`);
  return Object.keys(errors).length > 0 ? 1 : 0;
}

if (require.main === module) {
  runBench(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
