import fc from 'fast-check';

import {
  MAX_CHUNK_SIZE,
  chunkText,
  iterateChunks,
  iterateChunksOfPieces,
  validateChunkOptions,
  type Chunk,
  type ChunkOptions,
} from '../../../shared/chunking';
import { assertChunkInvariants } from './invariants';

/** Chunks `text`, checks every invariant and that the lazy and array forms agree. */
function chunkChecked(text: string, chunkSize: number, chunkOverlap: number): Chunk[] {
  const opts = { chunkSize, chunkOverlap };
  const chunks = chunkText(text, opts);
  assertChunkInvariants(text, chunks, opts);
  expect(Array.from(iterateChunks(text, opts))).toEqual(chunks);
  return chunks;
}

const WHITESPACE = /\s/;
const TERMINALS = '.!?…。！？｡';
const CLOSERS = '"\')]»’”〉》」』】）';

const isWs = (c: string | undefined): boolean => c !== undefined && WHITESPACE.test(c);

/**
 * How a chunk ending at `end` ends, ignoring the whitespace around the cut: at the end of the text, at a
 * paragraph break (two or more newlines), after a sentence end (terminal, optional closers, then whitespace
 * or, for CJK terminals, anything), at a line break, or elsewhere.
 */
function boundaryKind(text: string, end: number): 'end' | 'paragraph' | 'sentence' | 'line' | 'other' {
  let before = end - 1;
  while (before >= 0 && isWs(text[before])) before--;
  let after = end;
  while (after < text.length && isWs(text[after])) after++;
  if (after >= text.length) return 'end';
  const gap = text.slice(before + 1, after);
  const newlines = gap.split('\n').length - 1;
  if (newlines >= 2) return 'paragraph';
  let t = before;
  while (t >= 0 && CLOSERS.includes(text[t] ?? '')) t--;
  const terminal = text[t] ?? '';
  if ('。！？｡'.includes(terminal) && terminal !== '') return 'sentence';
  if ('.!?…'.includes(terminal) && terminal !== '' && gap.length > 0) return 'sentence';
  return newlines === 1 ? 'line' : 'other';
}

const isPreferred = (kind: string): boolean => kind === 'paragraph' || kind === 'sentence' || kind === 'end';

/** Share of non-final chunks that end on a paragraph break or sentence end. */
function preferredShare(text: string, chunks: readonly Chunk[]): number {
  const inner = chunks.slice(0, -1);
  return inner.filter((c) => isPreferred(boundaryKind(text, c.end))).length / Math.max(1, inner.length);
}

/** Deterministic pseudo-random generator (LCG) so the fixed samples are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const WORDS =
  'the graph stores each document as chunks linked in order so that retrieval can walk from a matching chunk to its neighbours and back to the source with exact offsets into the original text'.split(
    ' ',
  );

/** Prose: paragraphs of 1-8 sentences of 4-25 words, separated by blank lines. */
function prose(paragraphs: number, seed: number, newline = '\n'): string {
  const rand = lcg(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const out: string[] = [];
  for (let p = 0; p < paragraphs; p++) {
    const sentences: string[] = [];
    const count = 1 + Math.floor(rand() * 8);
    for (let s = 0; s < count; s++) {
      const words = Array.from({ length: 4 + Math.floor(rand() * 22) }, () => pick(WORDS));
      const sentence = words.join(' ');
      sentences.push(sentence.charAt(0).toUpperCase() + sentence.slice(1) + pick(['.', '.', '.', '?', '!']));
    }
    out.push(sentences.join(' '));
  }
  return out.join(newline + newline);
}

const MARKDOWN = `# Graphmill

Graphmill ingests documents and writes them to Neo4j as a lexical graph. Each document becomes a chain of chunks.

## Usage

1. Upload a document.
2. Wait for the ingestion job to finish!
3. Query the graph?

\`\`\`bash
graphmill ingest ./docs --chunk-size 1000 --chunk-overlap 200
\`\`\`

| option | default | meaning |
|---|---|---|
| chunk-size | 1000 | maximum chunk length |
| chunk-overlap | 200 | characters shared by neighbours |

> Note: offsets are UTF-16 code units, so \`text.slice(start, end)\` returns the chunk.
`;

const CODE = `import { chunkText } from './chunking';

export function ingest(documents: string[]): number {
  let total = 0;
  for (const document of documents) {
    const chunks = chunkText(document, { chunkSize: 1000, chunkOverlap: 200 });
    total += chunks.length;
  }
  return total;
}

function main(): void {
  const count = ingest(['a', 'b']);
  if (count > 0) {
    console.log(\`ingested \${count} chunks\`);
  }
}
`;

describe('validateChunkOptions', () => {
  it.each<[string, ChunkOptions]>([
    ['negative chunkSize', { chunkSize: -5, chunkOverlap: 0 }],
    ['zero chunkSize', { chunkSize: 0, chunkOverlap: 0 }],
    ['chunkSize 1 (a surrogate pair could not fit)', { chunkSize: 1, chunkOverlap: 0 }],
    ['NaN chunkSize', { chunkSize: NaN, chunkOverlap: 0 }],
    ['Infinity chunkSize', { chunkSize: Infinity, chunkOverlap: 0 }],
    ['non-integer chunkSize', { chunkSize: 10.5, chunkOverlap: 0 }],
    ['chunkSize above the cap', { chunkSize: MAX_CHUNK_SIZE + 1, chunkOverlap: 0 }],
    ['negative chunkOverlap', { chunkSize: 10, chunkOverlap: -1 }],
    ['NaN chunkOverlap', { chunkSize: 10, chunkOverlap: NaN }],
    ['non-integer chunkOverlap', { chunkSize: 10, chunkOverlap: 1.5 }],
    ['chunkOverlap equal to chunkSize', { chunkSize: 10, chunkOverlap: 10 }],
    ['chunkOverlap above chunkSize', { chunkSize: 10, chunkOverlap: 11 }],
    ['string chunkSize', { chunkSize: '10' as unknown as number, chunkOverlap: 0 }],
  ])('rejects %s with a RangeError', (_name, opts) => {
    expect(() => validateChunkOptions(opts)).toThrow(RangeError);
    // iterateChunks validates eagerly, at the call, not at the first next().
    expect(() => iterateChunks('some text', opts)).toThrow(RangeError);
    expect(() => chunkText('some text', opts)).toThrow(RangeError);
  });

  it('names the offending option in the message', () => {
    expect(() => validateChunkOptions({ chunkSize: 1, chunkOverlap: 0 })).toThrow(/chunkSize/);
    expect(() => validateChunkOptions({ chunkSize: 10, chunkOverlap: -1 })).toThrow(/chunkOverlap/);
    expect(() => validateChunkOptions({ chunkSize: 10, chunkOverlap: 10 })).toThrow(/smaller than chunkSize/);
  });

  it.each<ChunkOptions>([
    { chunkSize: 2, chunkOverlap: 0 },
    { chunkSize: 2, chunkOverlap: 1 },
    { chunkSize: 1000, chunkOverlap: 200 },
    { chunkSize: MAX_CHUNK_SIZE, chunkOverlap: MAX_CHUNK_SIZE - 1 },
  ])('accepts %j', (opts) => {
    expect(() => validateChunkOptions(opts)).not.toThrow();
  });
});

describe('chunkText: table cases', () => {
  it('returns no chunks for empty text', () => {
    expect(chunkChecked('', 10, 2)).toEqual([]);
  });

  it.each([' ', '\n', '\r\n', '   \t  ', '\n\n\n', '\u3000'])(
    'returns one chunk for short whitespace-only text %j',
    (text) => {
      expect(chunkChecked(text, 10, 2)).toEqual([{ index: 0, text, start: 0, end: text.length }]);
    },
  );

  it.each([
    ['spaces', ' '.repeat(1000)],
    ['blank lines', '\n\n\n'.repeat(300)],
    ['mixed whitespace', ' \t\r\n\u3000'.repeat(200)],
  ])('covers long whitespace-only text (%s)', (_name, text) => {
    const chunks = chunkChecked(text, 50, 10);
    expect(chunks.length).toBeGreaterThan(1);
  });

  it('returns the whole text as one chunk when it fits', () => {
    const text = 'One sentence. Another one.';
    expect(chunkChecked(text, text.length, 5)).toEqual([{ index: 0, text, start: 0, end: text.length }]);
  });

  it.each([2, 3, 4, 5, 7, 10, 13])('never splits a surrogate pair in emoji text (chunkSize %i)', (size) => {
    const text = '😀 hello 🎉🎉 world 👍🏽 done! 😀😀😀 '.repeat(8);
    for (let overlap = 0; overlap < size; overlap++) chunkChecked(text, size, overlap);
  });

  it('backs off from an emoji that straddles the window edge', () => {
    // The pair occupies [9, 11): cutting at the limit 10 would split it, so the first chunk ends at 9.
    const text = `${'a'.repeat(9)}😀${'b'.repeat(20)}`;
    const chunks = chunkChecked(text, 10, 0);
    expect(chunks[0]).toMatchObject({ start: 0, end: 9 });
    expect(chunks[1]).toMatchObject({ start: 9, end: 19, text: `😀${'b'.repeat(8)}` });
  });

  it('chunks emoji-only text without whitespace into whole pairs', () => {
    const text = '😀'.repeat(100);
    for (const [size, overlap] of [
      [2, 0],
      [2, 1],
      [3, 1],
      [3, 2],
      [5, 4],
    ] as const) {
      const chunks = chunkChecked(text, size, overlap);
      for (const chunk of chunks) expect(chunk.text.length % 2).toBe(0);
    }
  });

  it('makes one chunk per emoji at chunkSize 2', () => {
    const chunks = chunkChecked('🎉🎉🎉', 2, 1);
    expect(chunks.map((c) => c.text)).toEqual(['🎉', '🎉', '🎉']);
  });

  it('handles chunkSize 2 on mixed text', () => {
    const text = `Hi! 😀 ok.\r\n\r\n漢字。 ${'x'.repeat(7)}`;
    chunkChecked(text, 2, 0);
    chunkChecked(text, 2, 1);
  });

  it('keeps CRLF pairs together and chunks CRLF text as well as LF text', () => {
    const lf = prose(40, 7);
    const crlf = prose(40, 7, '\r\n');
    for (const [size, overlap] of [
      [200, 40],
      [500, 0],
      [1000, 200],
    ] as const) {
      const chunks = chunkChecked(crlf, size, overlap);
      for (const chunk of chunks) {
        expect(crlf.slice(chunk.end - 1, chunk.end + 1)).not.toBe('\r\n');
        expect(crlf.slice(chunk.start - 1, chunk.start + 1)).not.toBe('\r\n');
      }
      // "\r\n" breaks count like "\n" ones (offsets differ, so compare the share of well-placed ends).
      const lfShare = preferredShare(lf, chunkChecked(lf, size, overlap));
      expect(preferredShare(crlf, chunks)).toBeGreaterThanOrEqual(lfShare - 0.05);
    }
  });

  it('hard-cuts text without whitespace at chunkSize, with no overlap (no clean boundary)', () => {
    const text = 'abcdefghij'.repeat(1000);
    const chunks = chunkChecked(text, 100, 10);
    expect(chunks).toHaveLength(100);
    chunks.forEach((chunk, i) => expect(chunk).toMatchObject({ start: i * 100, end: i * 100 + 100 }));
  });

  it('splits CJK text after 。！？ even without whitespace', () => {
    const text = '今天天气很好。我们去公园散步吧！你觉得怎么样？'.repeat(20);
    const chunks = chunkChecked(text, 20, 5);
    for (const chunk of chunks.slice(0, -1)) expect('。！？').toContain(chunk.text.slice(-1));
    // Overlap starts at a sentence start too.
    for (const chunk of chunks.slice(1)) expect('。！？').toContain(text[chunk.start - 1]);
  });

  it('keeps closing quotes and brackets with the sentence', () => {
    const text =
      '他说：“今天很好。”我们一起走了很久很久很久很久'.repeat(5) +
      'She said "Yes." Then left. (Really.) Fine. '.repeat(5);
    const chunks = chunkChecked(text, 30, 0);
    for (const chunk of chunks.slice(0, -1)) expect(boundaryKind(text, chunk.end)).toBe('sentence');
    expect(chunks.some((c) => c.text.endsWith('。”'))).toBe(true);
    expect(chunks.some((c) => c.text.endsWith('." ') || c.text.endsWith('.) '))).toBe(true);
  });

  it('isolates a single huge word and resumes at word boundaries', () => {
    const huge = 'x'.repeat(5000);
    const text = `A short intro sentence. ${huge} and a short outro.`;
    const chunks = chunkChecked(text, 1000, 200);
    expect(chunks[0]?.text).toBe('A short intro sentence. ');
    const inside = chunks.filter((c) => /^x+$/.test(c.text));
    expect(inside.length).toBeGreaterThanOrEqual(4);
    expect(chunks[chunks.length - 1]?.text.endsWith('outro.')).toBe(true);
  });

  it.each([
    ['markdown', MARKDOWN],
    ['code', CODE],
  ])('chunks %s on line or paragraph boundaries', (_name, sample) => {
    const text = sample.repeat(5);
    for (const [size, overlap] of [
      [200, 40],
      [1000, 200],
    ] as const) {
      const chunks = chunkChecked(text, size, overlap);
      for (const chunk of chunks.slice(0, -1)) expect(boundaryKind(text, chunk.end)).not.toBe('other');
    }
    // Lines longer than the chunk must be cut inside; the invariants still hold.
    chunkChecked(text, 40, 10);
  });

  it('does not take an ordered-list number for a sentence end', () => {
    // Were "2. " a sentence end, it would win over the line break before it (sentence ends rank higher).
    const text =
      'Intro line here\n1. Upload the document to the bucket\n2. Wait for the job\n3. Query the graph';
    const chunks = chunkChecked(text, 60, 0);
    expect(chunks[0]?.text).toBe('Intro line here\n1. Upload the document to the bucket\n');
    for (const chunk of chunks) expect(chunk.text).not.toMatch(/\d\. ?$/);
  });

  it('produces contiguous chunks with overlap 0', () => {
    const text = prose(30, 3);
    const chunks = chunkChecked(text, 300, 0);
    for (let i = 1; i < chunks.length; i++) expect(chunks[i]?.start).toBe(chunks[i - 1]?.end);
  });

  it('overlaps consecutive chunks by whole words, never more than chunkOverlap', () => {
    const text = prose(60, 11);
    for (const overlap of [0, 1, 20, 100, 200, 500]) {
      const chunks = chunkChecked(text, 1000, overlap);
      let overlapped = 0;
      for (let i = 1; i < chunks.length; i++) {
        const prev = chunks[i - 1] as Chunk;
        const chunk = chunks[i] as Chunk;
        const shared = prev.end - chunk.start;
        expect(shared).toBeLessThanOrEqual(overlap);
        if (shared > 0) {
          overlapped++;
          // The overlap starts at a word: after whitespace, on a non-whitespace character.
          expect(isWs(text[chunk.start - 1])).toBe(true);
          expect(isWs(text[chunk.start])).toBe(false);
        }
      }
      if (overlap >= 100) expect(overlapped).toBeGreaterThan(chunks.length / 2);
    }
  });
});

describe('iterateChunks laziness', () => {
  it('materialises only the chunks that are pulled from a 5 MB text', () => {
    const text = 'Lorem ipsum dolor sit amet. '.repeat(200_000); // 5.6 MB
    // The chunker's only String#slice call produces a chunk's text, so counting slices counts the chunks
    // materialised. Counts are read while spying and asserted afterwards, so jest's own slices don't count.
    const slice = jest.spyOn(String.prototype, 'slice');
    let beforeNext: number;
    let afterFirst: number;
    let afterThird: number;
    let first: IteratorResult<Chunk, void>;
    try {
      const chunks = iterateChunks(text, { chunkSize: 1000, chunkOverlap: 200 });
      beforeNext = slice.mock.calls.length;
      first = chunks.next();
      afterFirst = slice.mock.calls.length;
      chunks.next();
      chunks.next();
      afterThird = slice.mock.calls.length;
    } finally {
      slice.mockRestore();
    }
    expect(beforeNext).toBe(0);
    expect(first.done).toBe(false);
    expect(first.value).toMatchObject({ index: 0, start: 0 });
    // One chunk per next(), not the ~7000 of the whole text.
    expect(afterFirst).toBe(1);
    expect(afterThird).toBe(3);
  });

  it('streams all chunks of a multi-megabyte text without keeping them', () => {
    const text = prose(3000, 5).repeat(4);
    let count = 0;
    let covered = 0;
    for (const chunk of iterateChunks(text, { chunkSize: 1000, chunkOverlap: 200 })) {
      expect(chunk.index).toBe(count++);
      covered = chunk.end;
    }
    expect(covered).toBe(text.length);
    expect(count).toBeGreaterThan(text.length / 1000);
  });
});

describe('boundary preference', () => {
  it('ends nearly every chunk of paragraphed prose on a paragraph break or sentence end', () => {
    const text = prose(300, 42); // ~ 150 KB
    const cases: [number, number, number][] = [
      // chunkSize, chunkOverlap, minimum share (measured: 1.0, 1.0, 0.98)
      [1000, 200, 0.98],
      [500, 50, 0.97],
      [300, 0, 0.95],
    ];
    for (const [size, overlap, threshold] of cases) {
      const chunks = chunkChecked(text, size, overlap);
      expect(preferredShare(text, chunks)).toBeGreaterThanOrEqual(threshold);
    }
  });

  it('prefers a paragraph break past the middle of the window to a later sentence end', () => {
    const text = `${'Word '.repeat(11)}end.\n\nNext one. ${'more '.repeat(20)}`;
    const chunks = chunkChecked(text, 80, 0);
    expect(chunks[0]?.text.endsWith('end.\n\n')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Properties

const piece = fc.oneof(
  { weight: 30, arbitrary: fc.constantFrom('lorem', 'ipsum', 'a', 'Graph', 'chunk', 'x') },
  {
    weight: 3,
    arbitrary: fc.string({ unit: fc.constantFrom('a', 'b', 'é'), minLength: 1, maxLength: 400, size: 'max' }),
  },
  { weight: 20, arbitrary: fc.constantFrom(' ', '  ', '\t', '\u00a0') },
  { weight: 6, arbitrary: fc.constantFrom('\n', '\r\n', '\r') },
  { weight: 5, arbitrary: fc.constantFrom('\n\n', '\r\n\r\n', '\n \n', '\n\n\n') },
  {
    weight: 8,
    arbitrary: fc.constantFrom('. ', '! ', '? ', '.', '."', '.) ', '…', '?!', '\n1. ', '\n  23. ', '4.'),
  },
  { weight: 5, arbitrary: fc.constantFrom('😀', '🎉', '👍🏽', '𝒳') },
  { weight: 5, arbitrary: fc.constantFrom('漢字', '中文句子', '。', '！', '？', '」', '\u3000') },
  { weight: 1, arbitrary: fc.constantFrom('\ud83d', '\ude00') }, // lone surrogates
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 10 }) },
);
const textArb = fc.array(piece, { maxLength: 300, size: 'max' }).map((parts) => parts.join(''));
const optionsArb = fc.integer({ min: 2, max: 300 }).chain((chunkSize) =>
  fc.record({
    chunkSize: fc.constant(chunkSize),
    chunkOverlap: fc.integer({ min: 0, max: chunkSize - 1 }),
  }),
);

/**
 * Whether the fuller half of a chunk's window (past the middle of the new text) holds a paragraph break or
 * sentence end whose whitespace run lies entirely inside the window. Computed independently of the chunker.
 */
function preferredCutInWindow(text: string, chunk: Chunk, prevEnd: number, chunkSize: number): boolean {
  const minCut = Math.max(chunk.start, prevEnd);
  const hi = chunk.start + chunkSize;
  const from = Math.max(Math.ceil(minCut + 0.5 * (hi - minCut)), minCut + 1);
  for (let end = from; end <= hi && end < text.length; end++) {
    if (!isWs(text[end - 1]) || isWs(text[end])) continue;
    let runStart = end;
    let newlines = 0;
    while (runStart > chunk.start && isWs(text[runStart - 1])) {
      runStart--;
      if (text[runStart] === '\n') newlines++;
    }
    if (newlines >= 2) return true;
    let t = runStart - 1;
    for (let closers = 0; closers < 3 && t >= 0 && CLOSERS.includes(text[t] ?? ''); closers++) t--;
    // The "3." of an ordered list item at a line start is not a sentence end.
    const listNumber =
      text[t] === '.' && /(^|\n)[ \t]{0,16}\d{1,9}$/.test(text.slice(Math.max(0, t - 30), t));
    if (t >= 0 && TERMINALS.includes(text[t] ?? '') && !listNumber) return true;
  }
  return false;
}

describe('chunkText properties', () => {
  it('satisfies every invariant for random text and options', () => {
    fc.assert(
      fc.property(textArb, optionsArb, (text, opts) => {
        assertChunkInvariants(text, chunkText(text, opts), opts);
      }),
      { numRuns: 1000 },
    );
  });

  it('satisfies every invariant on surrogate-heavy text with tiny chunks', () => {
    const dense = fc
      .array(fc.constantFrom('😀', '👍🏽', 'a', ' ', '\r\n', '。'), { maxLength: 200, size: 'max' })
      .map((p) => p.join(''));
    const small = fc.integer({ min: 2, max: 8 }).chain((chunkSize) =>
      fc.record({
        chunkSize: fc.constant(chunkSize),
        chunkOverlap: fc.integer({ min: 0, max: chunkSize - 1 }),
      }),
    );
    fc.assert(
      fc.property(dense, small, (text, opts) => {
        assertChunkInvariants(text, chunkText(text, opts), opts);
      }),
      { numRuns: 500 },
    );
  });

  it('agrees between the lazy and the array form, and is contiguous without overlap', () => {
    fc.assert(
      fc.property(textArb, fc.integer({ min: 2, max: 300 }), (text, chunkSize) => {
        const chunks = chunkText(text, { chunkSize, chunkOverlap: 0 });
        expect(Array.from(iterateChunks(text, { chunkSize, chunkOverlap: 0 }))).toEqual(chunks);
        for (let i = 1; i < chunks.length; i++) expect(chunks[i]?.start).toBe(chunks[i - 1]?.end);
      }),
      { numRuns: 300 },
    );
  });

  it('ends a chunk on a paragraph break or sentence end whenever the fuller half of its window has one', () => {
    fc.assert(
      fc.property(textArb, optionsArb, (text, opts) => {
        const chunks = chunkText(text, opts);
        chunks.slice(0, -1).forEach((chunk, i) => {
          const prevEnd = i > 0 ? (chunks[i - 1]?.end ?? 0) : 0;
          if (!preferredCutInWindow(text, chunk, prevEnd, opts.chunkSize)) return;
          const kind = boundaryKind(text, chunk.end);
          if (!isPreferred(kind))
            throw new Error(`chunk ${chunk.index} ends at ${chunk.end} on a ${kind} boundary`);
        });
      }),
      { numRuns: 500 },
    );
  });
});

describe('iterateChunksOfPieces (a text that arrives in pieces)', () => {
  /** Cuts `text` at the given positions (any positions: inside surrogate pairs and CRLF too). */
  const split = (text: string, cuts: number[]): string[] => {
    const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
    const out: string[] = [];
    let from = 0;
    for (const c of at) {
      out.push(text.slice(from, c));
      from = c;
    }
    out.push(text.slice(from));
    return out;
  };

  it('yields exactly the chunks of the whole text, whatever the pieces', () => {
    fc.assert(
      fc.property(textArb, optionsArb, fc.array(fc.nat(), { maxLength: 20 }), (text, opts, cuts) => {
        const pieces = split(text, cuts);
        expect(pieces.join('')).toBe(text);
        expect(Array.from(iterateChunksOfPieces(pieces, opts))).toEqual(chunkText(text, opts));
      }),
      { numRuns: 1000 },
    );
  });

  it('yields exactly the chunks of a multi-megabyte text read in slices, across the window trims', () => {
    const parts = fc.sample(textArb, { numRuns: 400, seed: 77 });
    let text = '';
    for (let i = 0; text.length < 3_000_000; i++) text += parts[i % parts.length] ?? '';
    const cuts = fc.sample(fc.nat({ max: text.length }), { numRuns: 60, seed: 78 });
    const pieces = split(text, cuts);
    for (const opts of [
      { chunkSize: 1000, chunkOverlap: 200 },
      { chunkSize: 300, chunkOverlap: 0 },
      { chunkSize: 4, chunkOverlap: 3 },
    ]) {
      const streamed = Array.from(iterateChunksOfPieces(pieces, opts));
      const whole = chunkText(text, opts);
      expect(streamed.length).toBe(whole.length);
      expect(streamed).toEqual(whole);
    }
  });

  it('takes any iterable, lazily, and validates options at the call', () => {
    let pulled = 0;
    function* pieces() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield `Sentence ${i} of a long stream. `;
      }
    }
    const it = iterateChunksOfPieces(pieces(), { chunkSize: 100, chunkOverlap: 10 });
    expect(it.next().value).toMatchObject({ index: 0, start: 0 });
    expect(pulled).toBeLessThan(10);
    expect(() => iterateChunksOfPieces([], { chunkSize: 10, chunkOverlap: 10 })).toThrow(RangeError);
    expect(Array.from(iterateChunksOfPieces([], { chunkSize: 10, chunkOverlap: 0 }))).toEqual([]);
    expect(Array.from(iterateChunksOfPieces(['', 'ab', ''], { chunkSize: 10, chunkOverlap: 0 }))).toEqual([
      { index: 0, text: 'ab', start: 0, end: 2 },
    ]);
  });
});
