import { DOC_KINDS, generateCorpus, generateDocument, makeRng, sentence } from '../../../bench/corpus';

describe('makeRng', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = makeRng(1);
    const b = makeRng(1);
    const c = makeRng(2);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
  });

  it('stays in range', () => {
    const r = makeRng(3);
    for (let i = 0; i < 10_000; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
      const k = r.int(-2, 2);
      expect(Number.isInteger(k) && k >= -2 && k <= 2).toBe(true);
    }
  });

  it('pickSkewed favours the head of the list without one item dominating', () => {
    const r = makeRng(4);
    const items = Array.from({ length: 100 }, (_, i) => i);
    const counts = new Array<number>(100).fill(0);
    for (let i = 0; i < 100_000; i++) counts[r.pickSkewed(items)]!++;
    expect(counts[0]!).toBeGreaterThan(counts[99]! * 3);
    expect(counts[0]! / 100_000).toBeLessThan(0.1);
  });
});

describe('generateDocument', () => {
  it.each(DOC_KINDS)('gives the same %s text for the same seed', (kind) => {
    expect(generateDocument(11, kind, 5_000)).toBe(generateDocument(11, kind, 5_000));
    expect(generateDocument(11, kind, 5_000)).not.toBe(generateDocument(12, kind, 5_000));
  });

  it.each(DOC_KINDS)('reaches about the requested size (%s)', (kind) => {
    for (const target of [500, 20_000, 200_000]) {
      const text = generateDocument(5, kind, target);
      expect(text.length).toBeGreaterThanOrEqual(target);
      // It stops after the block that reaches the target; blocks are at most a few KB.
      expect(text.length).toBeLessThan(target + 6_000);
    }
  });

  it('writes prose in paragraphs of sentences of varied length', () => {
    const text = generateDocument(21, 'prose', 100_000);
    const paragraphs = text.split(/\n{2,}/);
    expect(paragraphs.length).toBeGreaterThan(50);
    const lengths = text
      .replace(/\n/g, ' ')
      .split(/(?<=[.!?…])\s+(?=[A-Z“(0-9])/)
      .map((s) => s.split(/\s+/).length);
    const short = lengths.filter((n) => n <= 6).length / lengths.length;
    const long = lengths.filter((n) => n >= 25).length / lengths.length;
    expect(short).toBeGreaterThan(0.03);
    expect(long).toBeGreaterThan(0.1);
  });

  it('writes markdown with headings, lists, code blocks and tables', () => {
    const text = generateDocument(8, 'markdown', 100_000);
    expect(text).toMatch(/^# /);
    expect(text).toMatch(/\n## \d+\. /);
    expect(text).toMatch(/\n- /);
    expect(text).toMatch(/\n1\. /);
    expect(text).toMatch(/\n```[a-z]+\n[\s\S]*?\n```/);
    expect(text).toMatch(/\n\| .* \|\n\|( --- \|)+/);
    expect(text).toMatch(/\n> /);
  });

  it('writes code with functions, comments and blank lines between blocks', () => {
    const ts = [1, 2, 3, 4, 5, 6].map((s) => generateDocument(s, 'code', 20_000));
    expect(ts.some((t) => /export (async )?function \w+\(/.test(t))).toBe(true);
    expect(ts.some((t) => /\ndef \w+\(/.test(t))).toBe(true);
    for (const t of ts) expect(t).toMatch(/\n\n/);
  });

  it('contains the traps a splitter meets in real text', () => {
    const text = generateDocument(99, 'prose', 300_000);
    expect(text).toMatch(/\b(e\.g|i\.e|cf|vs|etc|approx)\. /); // abbreviations
    expect(text).toMatch(/\d\.\d/); // decimal numbers
    expect(text).toMatch(/[.!?]”/); // a closing quote after the terminal
    expect(text).toMatch(/[\u0080-\uffff]/); // some non-ASCII
  });

  it('produces sentences that start with a capital and end with a terminal', () => {
    const r = makeRng(1);
    for (let i = 0; i < 500; i++) {
      const s = sentence(r);
      expect(s).toMatch(/^[“(]?[A-Z0-9]/);
      expect(s).toMatch(/[.!?…][”)]?$/);
    }
  });
});

describe('generateCorpus', () => {
  it('reaches the total size with a deterministic mix of kinds and unique ids', () => {
    const a = generateCorpus({ seed: 1, totalChars: 500_000, minDocChars: 1_000, maxDocChars: 50_000 });
    const b = generateCorpus({ seed: 1, totalChars: 500_000, minDocChars: 1_000, maxDocChars: 50_000 });
    expect(a).toEqual(b);
    const total = a.reduce((n, d) => n + d.text.length, 0);
    expect(total).toBeGreaterThanOrEqual(500_000);
    expect(total).toBeLessThan(520_000);
    expect(new Set(a.map((d) => d.id)).size).toBe(a.length);
    for (const kind of DOC_KINDS) expect(a.some((d) => d.kind === kind)).toBe(true);
  });

  it('honours the id prefix and the mix', () => {
    const docs = generateCorpus({
      seed: 2,
      totalChars: 100_000,
      maxDocChars: 5_000,
      idPrefix: 'bench-x-',
      mix: { prose: 0, markdown: 1, code: 0 },
    });
    expect(docs.every((d) => d.id.startsWith('bench-x-') && d.kind === 'markdown')).toBe(true);
  });
});
