/** Result types shared by the suites, and the markdown table. */
import type { Suite } from './args';
import type { BenchNeo4j } from './neo4j';
import type { Summary } from './stats';

export interface SuiteContext {
  readonly repoRoot: string;
  readonly quick: boolean;
  /** --reps, if given: overrides the suite's default number of timed repetitions. */
  readonly reps: number | undefined;
  readonly log: (line: string) => void;
  /** Present when the suite needs Neo4j. */
  readonly neo4j: BenchNeo4j | undefined;
  /** A private temporary directory for this run (removed at the end). */
  readonly tmpDir: string;
  /** Short random tag of this run, part of every id the run creates. */
  readonly runTag: string;
}

/** One line of the table: a figure for graphmill, the figure it is compared with, and the target. */
export interface Row {
  readonly suite: Suite;
  readonly measure: string;
  readonly graphmill: string;
  readonly peer: string;
  /** graphmill / peer (or the value compared with the limit), as displayed. */
  readonly ratio: string;
  readonly target: string;
  /** undefined: informational row, no target. */
  readonly pass: boolean | undefined;
  readonly note?: string;
}

export interface SuiteResult {
  readonly suite: Suite;
  readonly rows: readonly Row[];
  /** Everything measured, for the JSON file. */
  readonly details: Record<string, unknown>;
}

/** "123", "1.23 k", with a [min-max] range when there is more than one repetition. */
export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtSummary(s: Summary, digits = 0, unit = ''): string {
  const u = unit ? ` ${unit}` : '';
  if (s.values.length <= 1) return `${fmt(s.median, digits)}${u}`;
  return `${fmt(s.median, digits)}${u} [${fmt(s.min, digits)}–${fmt(s.max, digits)}]`;
}

export const fmtRatio = (r: number, digits = 2): string =>
  Number.isFinite(r) ? `${r.toFixed(digits)}×` : 'n/a';

const escape = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function resultLabel(pass: boolean | undefined): string {
  if (pass === undefined) return '';
  return pass ? 'PASS' : '**MISS**';
}

export function markdownTable(rows: readonly Row[]): string {
  const head = ['#', 'measure', 'graphmill', 'compared with', 'ratio', 'target', 'result', 'note'];
  // The issue's item numbers; the functions' path is context for item 3 (end to end).
  const order: Record<Suite, number> = {
    chunker: 1,
    writer: 2,
    e2e: 3,
    functions: 3,
    coldstart: 4,
    memory: 5,
  };
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    lines.push(
      `| ${[
        String(order[r.suite]),
        r.measure,
        r.graphmill,
        r.peer,
        r.ratio,
        r.target,
        resultLabel(r.pass),
        r.note ?? '',
      ]
        .map(escape)
        .join(' | ')} |`,
    );
  }
  return lines.join('\n');
}
