/**
 * 4. Cold start: for every `functions/<name>/index.ts` that has compiled JS in dist/, and for the bare
 * functions-framework hello function (bench/fixtures/hello.js), N fresh `node` processes each measure the time
 * from process start to "ready to serve" (see bench/coldstart-child.ts). The processes run round-robin over
 * the entrypoints so that background load spreads evenly, after one warm-up round (file cache). One more,
 * instrumented, process per entrypoint lists the modules it loads by package.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { fmt, fmtRatio, fmtSummary, type Row, type SuiteContext, type SuiteResult } from '../report';
import { summarize, type Summary } from '../stats';
import { runChild } from './e2e';

export interface Entrypoint {
  /** Folder name under functions/ ("hello" for the fixture). */
  readonly name: string;
  /** Compiled module to require. */
  readonly module: string;
}

interface ChildReport {
  name: string;
  registered: string[];
  scriptStartMs: number;
  frameworkMs: number;
  importedMs: number;
  readyMs: number;
  readyCpuMs: number;
  maxRssKiB: number;
  deferredMs?: number;
  deferredCpuMs?: number;
  packages?: Record<string, { modules: number; bytes: number; selfMs: number }>;
  deferredPackages?: Record<string, { modules: number; bytes: number; selfMs: number }>;
}

/** Entrypoints with a source index.ts under functions/ and a compiled index.js under dist/functions/. */
export function discoverEntrypoints(repoRoot: string): { found: Entrypoint[]; notCompiled: string[] } {
  const found: Entrypoint[] = [];
  const notCompiled: string[] = [];
  const dir = path.join(repoRoot, 'functions');
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (!entry.isDirectory() || !existsSync(path.join(dir, entry.name, 'index.ts'))) continue;
    const compiled = path.join(repoRoot, 'dist', 'functions', entry.name, 'index.js');
    if (existsSync(compiled)) found.push({ name: entry.name, module: compiled });
    else notCompiled.push(entry.name);
  }
  return { found, notCompiled };
}

/** Heaviest packages first: time spent loading their own files, then size. */
export function heavyPackages(
  packages: Record<string, { modules: number; bytes: number; selfMs: number }> | undefined,
  top = 8,
): string {
  if (!packages) return '';
  return Object.entries(packages)
    .sort((a, b) => b[1].selfMs - a[1].selfMs || b[1].bytes - a[1].bytes)
    .slice(0, top)
    .map(([pkg, p]) => `${pkg} ${fmt(p.selfMs)} ms/${p.modules} mod/${fmt(p.bytes / 1024)} KiB`)
    .join(', ');
}

export async function runColdstart(ctx: SuiteContext): Promise<SuiteResult> {
  const reps = ctx.reps ?? (ctx.quick ? 3 : 15);
  const { found, notCompiled } = discoverEntrypoints(ctx.repoRoot);
  const hello: Entrypoint = {
    name: 'hello',
    module: path.join(ctx.repoRoot, 'bench', 'fixtures', 'hello.js'),
  };
  const all = [hello, ...found];
  const child = path.join(ctx.repoRoot, 'dist', 'bench', 'coldstart-child.js');
  // The functions' own view of the environment; nothing in it is needed to import an entrypoint.
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' };
  delete env['FUNCTION_TARGET'];
  ctx.log(
    `coldstart: ${all.map((e) => e.name).join(', ')}; ${reps} fresh processes each after 1 warm-up round`,
  );
  if (notCompiled.length) ctx.log(`  not compiled (skipped): ${notCompiled.join(', ')}`);

  const runOne = async (
    e: Entrypoint,
    names: Map<string, string>,
    extra: string[] = [],
  ): Promise<ChildReport> => {
    const run = await runChild(process.execPath, [child, e.module, names.get(e.name) ?? e.name, ...extra], {
      cwd: ctx.repoRoot,
      env,
    });
    if (run.code !== 0)
      throw new Error(`cold start of ${e.name} failed (${run.code}): ${run.stderr.slice(0, 1500)}`);
    return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as ChildReport;
  };

  // The instrumented runs first: they find the registered function names and warm the file cache.
  const names = new Map<string, string>();
  const profiles = new Map<string, ChildReport>();
  for (const e of all) {
    const report = await runOne(e, names, ['--modules']);
    names.set(e.name, report.name);
    profiles.set(e.name, report);
  }
  const ready = new Map<string, number[]>(all.map((e) => [e.name, []]));
  const readyCpu = new Map<string, number[]>(all.map((e) => [e.name, []]));
  const imported = new Map<string, number[]>(all.map((e) => [e.name, []]));
  const deferred = new Map<string, number[]>(all.map((e) => [e.name, []]));
  for (let rep = -1; rep < reps; rep++) {
    for (const e of all) {
      const r = await runOne(e, names);
      if (rep < 0) continue;
      ready.get(e.name)?.push(r.readyMs);
      readyCpu.get(e.name)?.push(r.readyCpuMs);
      imported.get(e.name)?.push(r.importedMs - r.frameworkMs);
      if (r.deferredCpuMs !== undefined) deferred.get(e.name)?.push(r.deferredCpuMs);
    }
  }

  const base = summarize(ready.get('hello') ?? []);
  const baseCpu = summarize(readyCpu.get('hello') ?? []);
  const rows: Row[] = [];
  const perEntry: Record<string, unknown> = {};
  for (const e of all) {
    const s: Summary = summarize(ready.get(e.name) ?? []);
    const c: Summary = summarize(readyCpu.get(e.name) ?? []);
    const imp = summarize(imported.get(e.name) ?? []);
    const ratio = c.median / baseCpu.median;
    const wallRatio = s.median / base.median;
    const profile = profiles.get(e.name);
    const def = deferred.get(e.name) ?? [];
    const deferredMs = def.length ? summarize(def) : undefined;
    perEntry[e.name] = {
      function: names.get(e.name),
      readyCpuMs: c,
      readyWallMs: s,
      entryRequireMs: imp,
      ratioCpu: ratio,
      ratioWall: wallRatio,
      packages: profile?.packages,
      deferredToFirstRequestCpuMs: deferredMs ?? null,
      deferredPackages: profile?.deferredPackages ?? null,
    };
    if (e.name === 'hello') continue;
    const limit = e.name === 'health' ? 1.2 : 1.5;
    rows.push({
      suite: 'coldstart',
      measure: `cold start \`${e.name}\` (CPU ms to ready)`,
      graphmill: fmtSummary(c),
      peer: `hello ${fmtSummary(baseCpu)}`,
      ratio: fmtRatio(ratio),
      target: `≤ ${limit}×`,
      pass: ratio <= limit,
      note:
        `wall ${fmt(s.median)} vs ${fmt(base.median)} ms (${fmtRatio(wallRatio)}); entry require ${fmt(imp.median)} ms` +
        (deferredMs
          ? `; deferred to the 1st request: loading wiring.js, ${fmt(deferredMs.median)} CPU ms (${heavyPackages(profile?.deferredPackages, 4)})`
          : ''),
    });
  }
  if (!found.some((e) => e.name === 'health')) {
    rows.push({
      suite: 'coldstart',
      measure: 'cold start `health`',
      graphmill: 'n/a',
      peer: '',
      ratio: '',
      target: '≤ 1.2×',
      pass: undefined,
      note: notCompiled.includes('health')
        ? 'functions/health not compiled'
        : 'no functions/health/index.ts yet',
    });
  }
  return {
    suite: 'coldstart',
    rows,
    details: {
      definition:
        'from process start to the framework server listening on 127.0.0.1:0 with the function registered; the ratio uses the CPU time (user+system) spent by then, robust to other load on the machine; wall time is reported too',
      reps,
      warmupRounds: 1,
      notCompiled,
      entrypoints: perEntry,
    },
  };
}
