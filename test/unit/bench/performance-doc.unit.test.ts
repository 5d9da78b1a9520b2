/**
 * docs/performance.md quotes the table of one `npm run bench` run, and that run's JSON is committed under
 * bench/reference/, so a reader (and this test) can check every cell against what the harness measured.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { markdownTable, type Row } from '../../../bench/report';

const ROOT = path.join(__dirname, '..', '..', '..');
const DOC = path.join(ROOT, 'docs', 'performance.md');

/** The cells of every row of the first markdown table in `text`, separator row left out. */
function tableCells(text: string): string[][] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trimStart().startsWith('|'));
  if (start < 0) return [];
  const rows: string[][] = [];
  for (const line of lines.slice(start)) {
    if (!line.trimStart().startsWith('|')) break;
    // Cells are separated by pipes that are not escaped (`\|` stands inside a cell).
    const cells = line
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    rows.push(cells);
  }
  return rows;
}

interface Reference {
  readonly table: string;
  readonly rows: readonly Row[];
}

/** The "Latest table" section of the doc and the reference result it names. */
function latestSection(): { section: string; reference: Reference } {
  const doc = readFileSync(DOC, 'utf8');
  const from = doc.indexOf('\n## Latest table\n');
  if (from < 0) throw new Error('docs/performance.md has no "## Latest table" section');
  const next = doc.indexOf('\n## ', from + 1);
  const section = doc.slice(from, next < 0 ? undefined : next);
  const named = /`(bench\/reference\/[\w.-]+\.json)`/.exec(section);
  if (!named?.[1]) throw new Error('the Latest table section names no bench/reference/*.json file');
  const file = path.join(ROOT, named[1]);
  if (!existsSync(file)) throw new Error(`${named[1]}, named by docs/performance.md, is not in the tree`);
  const json = JSON.parse(readFileSync(file, 'utf8')) as { table: string; rows: Row[] };
  return { section, reference: { table: json.table, rows: json.rows } };
}

describe('tableCells', () => {
  it('splits on unescaped pipes, trims, and skips the separator row', () => {
    const text = 'intro\n\n| a | b \\| c |\n| --- | :-: |\n|  x |  |\n\nafter\n| not | this |';
    expect(tableCells(text)).toEqual([
      ['a', 'b \\| c'],
      ['x', ''],
    ]);
  });

  it('finds no table in prose', () => {
    expect(tableCells('no table here')).toEqual([]);
  });
});

describe('docs/performance.md, Latest table', () => {
  let section = '';
  let reference: Reference;
  beforeAll(() => {
    ({ section, reference } = latestSection());
  });

  it('is the table the reference run printed, cell for cell', () => {
    const quoted = tableCells(section);
    expect(quoted.length).toBeGreaterThan(1);
    expect(quoted).toEqual(tableCells(reference.table));
  });

  it('shows every suite of the issue with a verdict that follows from the measured rows', () => {
    const suites = new Set(reference.rows.map((r) => r.suite));
    for (const s of ['chunker', 'writer', 'e2e', 'coldstart', 'memory'] as const) expect(suites).toContain(s);
    // The printed table is the harness's rendering of the rows: no verdict was edited by hand.
    expect(reference.table).toBe(markdownTable(reference.rows));
  });
});
