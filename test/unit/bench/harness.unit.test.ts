import * as path from 'node:path';
import { UsageError, parseBenchArgs, SUITES } from '../../../bench/args';
import { packageOf } from '../../../bench/packages';
import { isLoopbackUri } from '../../../bench/neo4j';
import { fmtSummary, markdownTable } from '../../../bench/report';
import { forEachConcurrent, median, repeat, runRotated, summarize } from '../../../bench/stats';
import { groupDocuments, type BenchDocument } from '../../../bench/writers';

describe('stats', () => {
  it('takes the median of odd and even counts without reordering the input', () => {
    const xs = [5, 1, 3];
    expect(median(xs)).toBe(3);
    expect(xs).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('summarizes with the spread relative to the median', () => {
    expect(summarize([10, 12, 8])).toEqual({ median: 10, min: 8, max: 12, spread: 0.4, values: [10, 12, 8] });
  });

  it('repeat runs the warm-ups untimed and the hooks around every run', async () => {
    const calls: string[] = [];
    const times = await repeat(
      { warmup: 2, reps: 3, before: () => void calls.push('before'), after: () => void calls.push('after') },
      (rep) => void calls.push(`run ${rep}`),
    );
    expect(times).toHaveLength(3);
    expect(calls.filter((c) => c.startsWith('run'))).toEqual(['run -2', 'run -1', 'run 0', 'run 1', 'run 2']);
    expect(calls.filter((c) => c === 'before')).toHaveLength(5);
    expect(calls.filter((c) => c === 'after')).toHaveLength(5);
  });

  it('forEachConcurrent bounds the calls in flight and visits every item once', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachConcurrent([1, 2, 3, 4, 5, 6, 7], 3, async (x) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setImmediate(r));
      seen.push(x);
      inFlight--;
    });
    expect(peak).toBe(3);
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('runRotated', () => {
  it('starts each repetition one side later and runs every side once', async () => {
    const calls: string[] = [];
    const sides = ['a', 'b', 'c'].map((x) => async () => {
      await new Promise((r) => setImmediate(r));
      calls.push(x);
    });
    for (let rep = 0; rep < 4; rep++) await runRotated(sides, rep);
    expect(calls.join('')).toBe('abcbcacababc');
  });
});

describe('parseBenchArgs', () => {
  it('defaults to every suite', () => {
    expect(parseBenchArgs([])).toEqual({ quick: false, only: new Set(SUITES), reps: undefined, help: false });
  });

  it('reads --quick, --only and --reps', () => {
    const o = parseBenchArgs(['--quick', '--only', 'writer, e2e', '--reps', '4']);
    expect(o.quick).toBe(true);
    expect([...o.only]).toEqual(['writer', 'e2e']);
    expect(o.reps).toBe(4);
  });

  it.each([
    [['--only', 'writer,disk']],
    [['--only', '']],
    [['--reps', '0']],
    [['--reps', '2.5']],
    [['--fast']],
    [['extra']],
  ])('rejects %j', (argv) => {
    expect(() => parseBenchArgs(argv)).toThrow(UsageError);
  });
});

describe('groupDocuments', () => {
  const doc = (id: string, n: number): BenchDocument => ({
    meta: { id, source: 's', contentHash: 'h', chunkSize: 1000, chunkOverlap: 200 },
    chunks: Array.from({ length: n }, (_, i) => ({ index: i, text: 'x', start: i, end: i + 1 })),
  });

  it('packs whole documents up to the chunk budget', () => {
    const groups = groupDocuments(
      [doc('a', 40), doc('b', 40), doc('c', 40), doc('d', 100), doc('e', 10)],
      100,
    );
    expect(groups.map((g) => g.map((d) => d.meta.id).join(''))).toEqual(['ab', 'c', 'd', 'e']);
  });

  it('puts a document larger than the budget in a group of its own', () => {
    expect(groupDocuments([doc('a', 500), doc('b', 1)], 100).map((g) => g.length)).toEqual([1, 1]);
  });

  it('closes a group once it holds the budget under the at-least rule (group commit)', () => {
    const groups = groupDocuments(
      [doc('a', 40), doc('b', 40), doc('c', 40), doc('d', 100), doc('e', 10)],
      100,
      'at-least',
    );
    expect(groups.map((g) => g.map((d) => d.meta.id).join(''))).toEqual(['abc', 'd', 'e']);
  });
});

describe('isLoopbackUri', () => {
  it.each([
    ['bolt://127.0.0.1:7687', true],
    ['neo4j://localhost:7687', true],
    ['bolt://[::1]:7687', true],
    ['bolt://127.4.5.6', true],
    ['neo4j+s://abcd.databases.neo4j.io', false],
    ['bolt://10.0.0.5:7687', false],
    ['bolt://127.0.0.1.evil.example:7687', false],
    ['not a uri', false],
  ])('%s -> %s', (uri, loopback) => {
    expect(isLoopbackUri(uri)).toBe(loopback);
  });
});

describe('packageOf', () => {
  it('names packages, scoped packages and the app', () => {
    const nm = (...p: string[]) => path.join('/app', 'node_modules', ...p);
    expect(packageOf(nm('express', 'lib', 'express.js'))).toBe('express');
    expect(packageOf(nm('@google-cloud', 'pubsub', 'build', 'src', 'index.js'))).toBe('@google-cloud/pubsub');
    expect(packageOf(nm('a', 'node_modules', 'b', 'index.js'))).toBe('b');
    expect(packageOf(path.join('/app', 'dist', 'functions', 'health', 'index.js'))).toBe('(app)');
  });
});

describe('report', () => {
  it('formats a summary with its range', () => {
    expect(fmtSummary(summarize([1000, 1200, 900]))).toBe('1,000 [900–1,200]');
    expect(fmtSummary(summarize([12.345]), 1, 'ms')).toBe('12.3 ms');
  });

  it('renders PASS and MISS rows and escapes pipes', () => {
    const table = markdownTable([
      {
        suite: 'writer',
        measure: 'a|b',
        graphmill: '1',
        peer: '2',
        ratio: '0.5×',
        target: '≥ 0.9×',
        pass: false,
      },
      { suite: 'chunker', measure: 'c', graphmill: '3', peer: '1', ratio: '3×', target: '≥ 2×', pass: true },
    ]);
    const lines = table.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toContain('a\\|b');
    expect(lines[2]).toContain('**MISS**');
    expect(lines[3]).toContain('| PASS |');
  });
});
