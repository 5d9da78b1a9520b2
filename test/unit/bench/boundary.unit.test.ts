import {
  boundaryKind,
  boundaryShare,
  countBoundaries,
  emptyCounts,
  locateChunks,
} from '../../../bench/boundary';

/** The offset of the "|" marker in `s`, and `s` without it. */
function at(s: string): [string, number] {
  const i = s.indexOf('|');
  return [s.slice(0, i) + s.slice(i + 1), i];
}

describe('boundaryKind', () => {
  it.each([
    ['paragraph, cut before the blank line', 'One. Two.|\n\nThree.', 'paragraph'],
    ['paragraph, cut after the blank line', 'One. Two.\n\n|Three.', 'paragraph'],
    ['paragraph, cut inside the blank line', 'One. Two.\n|\nThree.', 'paragraph'],
    ['paragraph without a full stop (heading)', '# Title|\n\nText.', 'paragraph'],
    ['CRLF paragraph', 'One.\r\n\r\n|Two.', 'paragraph'],
    ['sentence, cut before the space', 'It rained. |Then it snowed.', 'sentence'],
    ['sentence, trimmed cut', 'It rained.| Then it snowed.', 'sentence'],
    ['question', 'Why? |Because.', 'sentence'],
    ['ellipsis', 'Wait… |Now.', 'sentence'],
    ['closing quote after the terminal', 'He said “no.” |Then left.', 'sentence'],
    ['closing bracket after the terminal', '(See above.) |Next.', 'sentence'],
    ['CJK terminal needs no space', '今日は晴れ。|明日は雨。', 'sentence'],
    ['sentence end at a single line break', 'One sentence.\n|Another.', 'sentence'],
    ['line break without a terminal', 'const a = 1\n|const b = 2', 'line'],
    ['mid-line word boundary', 'the quick |brown fox', 'other'],
    ['mid-word', 'the qui|ck brown fox', 'other'],
    ['decimal number is not a sentence end', 'grew by 3.|5 percent', 'other'],
    ['terminal without a following space', 'see example.com|/path', 'other'],
    ['ordered-list marker', 'Steps:\n1.| Open the file', 'other'],
    ['indented ordered-list marker', 'Steps:\n  12. |Open the file', 'other'],
    ['abbreviation e.g.', 'many tools (e.g. |grep) exist', 'other'],
    ['title Dr.', 'we met Dr. |Smith there', 'other'],
    ['only whitespace follows', 'The end.|  \n\n ', 'end'],
  ])('%s', (_name, marked, kind) => {
    const [text, end] = at(marked);
    expect(boundaryKind(text, end)).toBe(kind);
  });

  it('counts a number that is not a list marker as a sentence end', () => {
    const [text, end] = at('The answer is 42. |Next one.');
    expect(boundaryKind(text, end)).toBe('sentence');
  });
});

describe('countBoundaries / boundaryShare', () => {
  it('leaves the final chunk out and counts each kind', () => {
    const text = 'Alpha beta. Gamma delta\n\nEpsilon zeta eta theta';
    const spans = [
      { start: 0, end: 12 }, // "Alpha beta. " sentence
      { start: 12, end: 25 }, // "Gamma delta\n\n" paragraph
      { start: 25, end: 38 }, // "Epsilon zeta " other
      { start: 38, end: text.length }, // final: not counted
    ];
    const counts = countBoundaries(text, spans);
    expect(counts).toEqual({ cuts: 3, paragraph: 1, sentence: 1, line: 0, other: 1, end: 0 });
    expect(boundaryShare(counts)).toBeCloseTo(2 / 3);
  });

  it('accumulates over documents', () => {
    const into = emptyCounts();
    countBoundaries(
      'A. B.',
      [
        { start: 0, end: 3 },
        { start: 3, end: 5 },
      ],
      into,
    );
    countBoundaries(
      'x y',
      [
        { start: 0, end: 2 },
        { start: 2, end: 3 },
      ],
      into,
    );
    expect(into.cuts).toBe(2);
    expect(boundaryShare(into)).toBe(0.5);
  });

  it('is 1 when there is nothing to judge', () => {
    expect(boundaryShare(emptyCounts())).toBe(1);
  });

  it('judges a kept-whitespace cut and the same cut trimmed alike', () => {
    const text = 'First sentence here. Second one.\n\nNext paragraph.';
    const kept = countBoundaries(text, [
      { start: 0, end: 21 },
      { start: 21, end: text.length },
    ]);
    const trimmed = countBoundaries(text, [
      { start: 0, end: 20 },
      { start: 21, end: text.length },
    ]);
    expect(kept).toEqual(trimmed);
  });
});

describe('locateChunks', () => {
  it('finds overlapping chunks in order', () => {
    const text = 'aaa bbb ccc aaa bbb ddd';
    expect(locateChunks(text, ['aaa bbb ccc', 'ccc aaa bbb', 'aaa bbb ddd'])).toEqual([
      { start: 0, end: 11 },
      { start: 8, end: 19 },
      { start: 12, end: 23 },
    ]);
  });

  it('finds a chunk that starts where the previous one started (trimmed whitespace)', () => {
    const text = 'Para one.\n\n\nPara two.';
    expect(locateChunks(text, ['Para one.', 'Para one.\n\n\nPara two.'])).toEqual([
      { start: 0, end: 9 },
      { start: 0, end: text.length },
    ]);
  });

  it('throws on a chunk that is not in the text', () => {
    expect(() => locateChunks('abc', ['abd'])).toThrow(/not found/);
  });
});
