/**
 * Figures: each suite prints one `chaos-figures` JSON line and writes its part under results/parts/;
 * the global teardown merges the parts into results/latest.json, which docs/reliability.md quotes.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { chaosScale } from './scale';

const RESULTS = join(__dirname, '..', 'results');
export const LATEST = join(RESULTS, 'latest.json');
/** Set by the global setup, inherited by the suites: each run keeps its parts apart from a concurrent one. */
const RUN_ID = 'CHAOS_RUN_ID';
const partsDir = (): string => join(RESULTS, 'parts', process.env[RUN_ID] ?? 'no-run-id');

/** The real stdout write, kept before any capture replaces it, so the figures always reach the console. */
const stdoutWrite = process.stdout.write.bind(process.stdout);

export function startResults(): void {
  process.env[RUN_ID] = `${Date.now()}-${process.pid}`;
  mkdirSync(partsDir(), { recursive: true });
  writeFileSync(
    join(partsDir(), '_run.json'),
    JSON.stringify({ startedAt: new Date().toISOString(), scale: chaosScale().name }),
  );
}

export function recordFigures(suite: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({ marker: 'chaos-figures', suite, scale: chaosScale().name, ...figures });
  stdoutWrite(`\nchaos-figures ${line}\n`);
  mkdirSync(partsDir(), { recursive: true });
  writeFileSync(join(partsDir(), `${suite}.json`), `${JSON.stringify(figures, null, 2)}\n`);
}

export function finishResults(): void {
  let run: { startedAt?: string; scale?: string } = {};
  const suites: Record<string, unknown> = {};
  let names: string[] = [];
  const parts = partsDir();
  try {
    names = readdirSync(parts).filter((n) => n.endsWith('.json'));
  } catch {
    return;
  }
  for (const name of names) {
    const value = JSON.parse(readFileSync(join(parts, name), 'utf8')) as Record<string, unknown>;
    if (name === '_run.json') run = value;
    else suites[name.replace(/\.json$/, '')] = value;
  }
  rmSync(parts, { recursive: true, force: true });
  const finishedAt = new Date();
  const started = run.startedAt ? Date.parse(run.startedAt) : finishedAt.getTime();
  writeFileSync(
    LATEST,
    `${JSON.stringify(
      {
        startedAt: run.startedAt,
        finishedAt: finishedAt.toISOString(),
        durationMs: finishedAt.getTime() - started,
        scale: run.scale,
        node: process.version,
        git: gitState(),
        cpus: cpus().length,
        summary: summarize(suites),
        suites,
      },
      null,
      2,
    )}\n`,
  );
}

type Bag = Record<string, unknown>;
const bag = (v: unknown): Bag => (typeof v === 'object' && v !== null ? (v as Bag) : {});
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** The headline figures docs/reliability.md quotes, from whichever suites ran. */
function summarize(suites: Record<string, unknown>): Record<string, unknown> {
  const nf = bag(suites['neo4j-faults']);
  const sf = bag(suites['store-faults']);
  const dup = bag(suites['duplicates']);
  const bad = bag(suites['bad-input']);
  const load = bag(suites['load']);
  const faults = bag(nf['faults']);
  const findings = Object.fromEntries(
    Object.entries(suites).map(([name, s]) => [
      name,
      Array.isArray(bag(s)['findings']) ? (bag(s)['findings'] as unknown[]).length : 0,
    ]),
  );
  return {
    faultsInjected: {
      neo4jSigkills: num(faults['sigkills']),
      connectionsDropped: num(faults['connectionsDropped']),
      connectionsCut: num(faults['connectionsCut']),
      latencySpikes: num(faults['latencySpikes']),
      commitAcksLost: num(faults['commitAcksLost']),
      storeCallsFailed: Object.values(bag(sf['faults'])).reduce<number>(
        (n, p) => n + num(bag(p)['failed']),
        0,
      ),
      eventsDeliveredTwice: num(bag(bag(dup['twiceReordered'])['bus'])['published']),
    },
    documentsLost: num(nf['lostDocuments']) + num(dup['lost']),
    chunksLost: num(nf['lostChunks']),
    duplicated: num(nf['duplicated']) + num(dup['duplicated']),
    partialDocumentsSeen: num(bag(nf['reader'])['partial']),
    lockedReads: num(bag(nf['reader'])['reads']),
    requestsFuzzed: num(bad['requestsFuzzed']),
    fiveHundredsSeen: num(bad['fiveHundreds']),
    connectionPeak: num(load['peakConnections']),
    connectionPool: num(load['neo4jMaxPoolSize']),
    loadP50Ms: num(bag(load['cold'])['p50Ms']),
    loadP99Ms: num(bag(load['cold'])['p99Ms']),
    secretsLeaked: Object.values(suites).reduce<number>(
      (n, s) => n + num(bag(bag(s)['leaks'])['occurrences']),
      0,
    ),
    findingsBySuite: findings,
  };
}

/** The commit the run tested, and the product files that differed from it (uncommitted work). */
function gitState(): { commit: string; modifiedProductFiles: string[] } {
  const git = (...args: string[]) =>
    spawnSync('git', args, { cwd: join(__dirname, '..', '..', '..'), encoding: 'utf8' }).stdout?.trim() ?? '';
  return {
    commit: git('rev-parse', 'HEAD'),
    modifiedProductFiles: git('status', '--porcelain', '--', 'shared', 'functions', 'cli', 'scripts')
      .split('\n')
      .filter((l) => l.trim() !== ''),
  };
}
