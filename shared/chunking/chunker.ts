/**
 * Recursive character text splitter with exact offsets.
 *
 * Same idea as LangChain's RecursiveCharacterTextSplitter (cut at the coarsest boundary that fits: paragraph,
 * then sentence, line, word and finally character; consecutive chunks overlap by whole pieces), but the
 * split is decided one chunk at a time inside a bounded window: for the chunk starting at `start`, only
 * text[start .. start + chunkSize] is examined (in practice a native newline search plus a short backward
 * scan from the window end). Time is O(n), memory O(1) besides the chunk texts the caller keeps, and nothing
 * is split into intermediate string arrays: the only `slice` produces a chunk's text.
 *
 * Sentence ends rank above bare line breaks (unlike LangChain's separator order) because chunks that end on a
 * sentence retrieve better than chunks ending on an arbitrary line; a line break right after a sentence end
 * is both.
 *
 * Offsets are UTF-16 code unit indices into the input, so `text.slice(start, end) === chunk.text`.
 */

export interface Chunk {
  /** 0-based position of the chunk in the document. */
  index: number;
  text: string;
  /** Inclusive start offset (UTF-16 code units). */
  start: number;
  /** Exclusive end offset (UTF-16 code units). */
  end: number;
}

export interface ChunkOptions {
  /** Maximum chunk length in UTF-16 code units, an integer in [MIN_CHUNK_SIZE, MAX_CHUNK_SIZE]. */
  chunkSize: number;
  /** Maximum number of code units shared by consecutive chunks, an integer in [0, chunkSize). */
  chunkOverlap: number;
}

/** A chunk of 1 code unit could not hold a surrogate pair without splitting it, so 2 is the floor. */
export const MIN_CHUNK_SIZE = 2;
/** Bounds the per-chunk window; far larger than any embedding model context. */
export const MAX_CHUNK_SIZE = 1_000_000;

/** Throws a RangeError describing the first invalid option. */
export function validateChunkOptions(opts: ChunkOptions): void {
  if (typeof opts !== 'object' || opts === null) {
    throw new RangeError('chunk options must be an object with chunkSize and chunkOverlap');
  }
  const { chunkSize, chunkOverlap } = opts;
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new RangeError(
      `chunkSize must be an integer between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE}, got ${String(chunkSize)}`,
    );
  }
  if (!Number.isInteger(chunkOverlap) || chunkOverlap < 0) {
    throw new RangeError(`chunkOverlap must be an integer >= 0, got ${String(chunkOverlap)}`);
  }
  if (chunkOverlap >= chunkSize) {
    throw new RangeError(
      `chunkOverlap must be smaller than chunkSize, got chunkOverlap ${chunkOverlap} >= chunkSize ${chunkSize}`,
    );
  }
}

/**
 * Lazily yields the chunks of `text`. Options are validated (and copied) eagerly, so bad options throw at
 * the call rather than at the first `next()`. The generator only holds the input and a few integers.
 */
export function iterateChunks(text: string, opts: ChunkOptions): Generator<Chunk, void, undefined> {
  if (typeof text !== 'string') {
    throw new TypeError(`text must be a string, got ${typeof text}`);
  }
  validateChunkOptions(opts);
  return generateChunks(text, opts.chunkSize, opts.chunkOverlap);
}

/**
 * Lazily yields the chunks of a text that arrives in consecutive pieces (decoded slices of a large file, say),
 * exactly as `iterateChunks(pieces.join(''))` would, with the same offsets into the whole text. Only a window
 * of the text is held: the chunker looks at most chunkSize + a few characters ahead of a chunk's start and a
 * few dozen behind it, so the window is the current piece plus what the next chunk still needs.
 */
export function iterateChunksOfPieces(
  pieces: Iterable<string>,
  opts: ChunkOptions,
): Generator<Chunk, void, undefined> {
  validateChunkOptions(opts);
  return generateChunksOfPieces(pieces[Symbol.iterator](), opts.chunkSize, opts.chunkOverlap);
}

/** All chunks of `text` as an array. Prefer `iterateChunks` for large documents. */
export function chunkText(text: string, opts: ChunkOptions): Chunk[] {
  return Array.from(iterateChunks(text, opts));
}

// ---------------------------------------------------------------------------------------------------------
// Character classes, as bit flags in a 64 KiB table: one indexed load per character in the hot loops.

const WS = 1; // whitespace (same set as JS `\s`)
const NL = 2; // '\n' (also WS)
const LATIN_END = 4; // . ! ? … : end a sentence only when followed by whitespace
const CJK_END = 8; // 。！？｡ : end a sentence even when the next character is not whitespace
const CLOSER = 16; // quotes and brackets that may follow a sentence end: `He said "no."`
const TERMINAL = LATIN_END | CJK_END;

const CLASS = buildClassTable();

function buildClassTable(): Uint8Array {
  const t = new Uint8Array(0x10000);
  const ws = [
    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006,
    0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
  ];
  for (const c of ws) t[c] = WS;
  t[0x0a] = WS | NL;
  for (const c of [0x2e, 0x21, 0x3f, 0x2026]) t[c] = LATIN_END;
  for (const c of [0x3002, 0xff01, 0xff1f, 0xff61]) t[c] = CJK_END;
  for (const c of [
    0x22, 0x27, 0x29, 0x5d, 0xbb, 0x2019, 0x201d, 0x3009, 0x300b, 0x300d, 0x300f, 0x3011, 0xff09,
  ]) {
    t[c] = CLOSER;
  }
  return t;
}

function cls(text: string, i: number): number {
  // charCodeAt is always < 0x10000, so the table lookup cannot miss; `?? 0` only satisfies the type checker.
  return CLASS[text.charCodeAt(i)] ?? 0;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** True if cutting at `i` would separate a high surrogate from its low surrogate. */
function splitsSurrogatePair(text: string, i: number): boolean {
  return (
    i > 0 && i < text.length && isHighSurrogate(text.charCodeAt(i - 1)) && isLowSurrogate(text.charCodeAt(i))
  );
}

/** True if cutting at `i` would separate "\r" from "\n". */
function splitsCrlf(text: string, i: number): boolean {
  return i > 0 && i < text.length && text.charCodeAt(i - 1) === 0x0d && text.charCodeAt(i) === 0x0a;
}

// ---------------------------------------------------------------------------------------------------------
// Chunking

function* generateChunks(
  text: string,
  chunkSize: number,
  chunkOverlap: number,
): Generator<Chunk, void, undefined> {
  const n = text.length;
  const newlines = new NewlineFinder(text);
  let index = 0;
  let start = 0;
  // End of the previous chunk: a cut must lie beyond it, so each chunk adds new text.
  let prevEnd = 0;
  while (start < n) {
    if (n - start <= chunkSize) {
      yield { index, text: text.slice(start, n), start, end: n };
      return;
    }
    const end = findCut(text, start, start + chunkSize, Math.max(start, prevEnd), newlines);
    yield { index: index++, text: text.slice(start, end), start, end };
    const next = chunkOverlap === 0 ? end : overlapStart(text, start, end, chunkSize, chunkOverlap);
    prevEnd = end;
    start = next;
  }
}

/**
 * Characters the window keeps before a chunk's start: the farthest any decision looks back is an ordered-list
 * number before a sentence end (a few closers, up to 9 digits and 16 spaces of indentation).
 */
const LOOKBACK = 64;
/** Characters past a chunk's limit (start + chunkSize) the decision may read: a "\r\n\r\n" at the edge. */
const LOOKAHEAD = 8;
/** The window drops the text behind it once this much of it is no longer needed. */
const TRIM_AT = 1 << 16;

function* generateChunksOfPieces(
  pieces: Iterator<string>,
  chunkSize: number,
  chunkOverlap: number,
): Generator<Chunk, void, undefined> {
  let buf = '';
  let base = 0; // offset of buf[0] in the whole text
  let done = false;
  let newlines = new NewlineFinder(buf);
  /** Reads pieces until the window reaches `end` (whole-text offset) or the text ends. */
  const fill = (end: number): void => {
    let grew = false;
    while (!done && base + buf.length < end) {
      const next = pieces.next();
      if (next.done) done = true;
      else if (next.value.length > 0) {
        buf += next.value;
        grew = true;
      }
    }
    if (grew) newlines = new NewlineFinder(buf);
  };

  let index = 0;
  let start = 0;
  let prevEnd = 0;
  for (;;) {
    fill(start + chunkSize + LOOKAHEAD + 1);
    const s = start - base;
    if (done && buf.length - s <= chunkSize) {
      // The rest of the text fits in one chunk (or nothing is left).
      if (s < buf.length) yield { index, text: buf.slice(s), start, end: base + buf.length };
      return;
    }
    const end = base + findCut(buf, s, s + chunkSize, Math.max(start, prevEnd) - base, newlines);
    yield { index: index++, text: buf.slice(s, end - base), start, end };
    const next = chunkOverlap === 0 ? end : base + overlapStart(buf, s, end - base, chunkSize, chunkOverlap);
    prevEnd = end;
    start = next;
    if (start - base > TRIM_AT + LOOKBACK) {
      const cut = start - base - LOOKBACK;
      buf = buf.slice(cut);
      base += cut;
      newlines = new NewlineFinder(buf);
    }
  }
}

// Cut levels, best first.
const PARAGRAPH = 0;
const SENTENCE = 1;
const LINE = 2;
const WORD = 3;

/**
 * Minimum fill, as a fraction of the new text in the window (past the previous chunk's end), for a paragraph
 * or sentence cut, and for a line or word cut. Paragraph and sentence ends win over a fuller chunk ending
 * mid-sentence, but chunks stay reasonably full (few chunks, little repeated overlap).
 */
const MIN_FILL_SENTENCE = 0.5;
const MIN_FILL_WORD = 0.75;

/**
 * Finds the next "\n" at or after a position with the native `indexOf`, remembering the answer: windows only
 * move forward, so a newline found far ahead (or none at all) is reused instead of searched for again. That
 * keeps the total search O(n) even for text without newlines.
 */
class NewlineFinder {
  private from = 0;
  private found: number;

  constructor(private readonly text: string) {
    this.found = text.indexOf('\n');
  }

  /** Position of the first "\n" at or after `from`, or -1. */
  next(from: number): number {
    if (from < this.from || (this.found >= 0 && from > this.found)) {
      this.from = from;
      this.found = this.text.indexOf('\n', from);
    }
    return this.found;
  }
}

/**
 * Chooses the end of the chunk starting at `start`: a cut c with minCut < c <= hi, where hi = start +
 * chunkSize < text.length. The first pass accepts, in this order, the last paragraph break or sentence end
 * past MIN_FILL_SENTENCE of the new text, then the last line or word boundary past MIN_FILL_WORD; failing
 * those, the best boundary anywhere, and finally a hard cut. Whitespace runs are cut after their end, so the
 * chunk keeps the whitespace and the next one starts at a word.
 *
 * This is the fast path for the common cases, probing as little text as possible: paragraph breaks via the
 * native newline search, then sentence ends backward from hi (the first one found is the last in the window),
 * then a word boundary near hi. Anything else goes to findCutFull, which implements the same choice with
 * one backward scan.
 */
function findCut(text: string, start: number, hi: number, minCut: number, newlines: NewlineFinder): number {
  const tSentence = minCut + MIN_FILL_SENTENCE * (hi - minCut);
  const tWord = minCut + MIN_FILL_WORD * (hi - minCut);
  // Every j >= floor has a cut after it (j + 1 or later) that is >= tSentence and > minCut.
  const floor = Math.max(minCut, Math.ceil(tSentence) - 1);
  const runLimit = Math.min(text.length, hi + 4);

  // 1. Paragraph breaks: visit each newline of the whitespace runs that end in the fuller part of the window
  // (from the start of the run containing floor, if any).
  let lastP = -1;
  let lastL = -1;
  let from = floor;
  while (from > start && cls(text, from - 1) & WS) from--;
  for (let q = newlines.next(from); q >= 0 && q < runLimit; q = newlines.next(q + 1)) {
    let runStart = q;
    let count = 1;
    while (runStart > start && cls(text, runStart - 1) & WS) {
      runStart--;
      if (cls(text, runStart) & NL) count++;
    }
    if (runStart > hi) break;
    let runEnd = q + 1;
    for (let k = cls(text, runEnd); runEnd < runLimit && k & WS; k = cls(text, ++runEnd)) {
      if (k & NL) count++;
    }
    q = runEnd - 1; // continue after the run
    const cut = runEnd <= hi ? runEnd : cutInRunAtLimit(text, runStart, hi);
    if (cut < tSentence || cut <= minCut) continue;
    if (count >= 2) lastP = cut;
    else lastL = cut;
  }
  if (lastP >= 0) return lastP;

  // 2. Sentence ends, backward from hi: a terminal (plus closers) followed by whitespace, or a CJK terminal.
  for (let j = hi - 1; j >= floor; j--) {
    if ((cls(text, j) & (TERMINAL | CLOSER)) === 0) continue;
    const state = sentenceStateBefore(text, j + 1);
    if (state === 0) continue;
    const after = cls(text, j + 1);
    if (after & WS) return cutAfterRun(text, j + 1, j + 1, hi);
    if (state === CJK_END && (after & (TERMINAL | CLOSER)) === 0) return j + 1;
  }
  // The loop only sees terminals at or after floor; a whitespace run across floor may still follow one.
  if (cls(text, floor) & WS) {
    let runStart = floor;
    while (runStart > start && cls(text, runStart - 1) & WS) runStart--;
    if (sentenceStateBefore(text, runStart) !== 0) {
      const cut = cutAfterRun(text, runStart, floor, hi);
      if (cut > minCut) return cut;
    }
  }

  // 3. A line break, else a word boundary, past tWord.
  if (lastL >= tWord) return lastL;
  if (cls(text, hi) & WS) {
    // hi is inside or at the start of a whitespace run: cut there.
    let runStart = hi;
    while (runStart > start && cls(text, runStart - 1) & WS) runStart--;
    const cut = runStart === hi ? hi : cutInRunAtLimit(text, runStart, hi);
    if (cut >= tWord && cut > minCut) return cut;
  } else {
    for (let j = hi - 1; j + 1 >= tWord && j > minCut; j--) {
      if (cls(text, j) & WS) return j + 1;
    }
  }

  return findCutFull(text, start, hi, minCut);
}

/**
 * The cut after the whitespace run that starts at runStart (scanning on from `from`, inside the run): its end,
 * or a cut inside it at hi if it goes on past hi.
 */
function cutAfterRun(text: string, runStart: number, from: number, hi: number): number {
  let runEnd = from;
  while (runEnd < hi && cls(text, runEnd) & WS) runEnd++;
  return runEnd < hi || (cls(text, hi) & WS) === 0 ? runEnd : cutInRunAtLimit(text, runStart, hi);
}

/** The cut for a whitespace run [runStart, ...) that goes on past hi: hi, but not between "\r" and "\n". */
function cutInRunAtLimit(text: string, runStart: number, hi: number): number {
  if (runStart === hi || !splitsCrlf(text, hi)) return hi;
  return hi - 1 > runStart ? hi - 1 : runStart;
}

/**
 * Chooses the end of the chunk starting at `start` (see findCut) with one backward scan from hi, so the
 * first boundary of each level found is the last one in the window. It stops as soon as the choice is
 * settled.
 */
function findCutFull(text: string, start: number, hi: number, minCut: number): number {
  const tSentence = minCut + MIN_FILL_SENTENCE * (hi - minCut);
  const tWord = minCut + MIN_FILL_WORD * (hi - minCut);
  // Last cut of each level "or better" (a sentence end also counts as a line and word boundary). A paragraph
  // break is returned as soon as it is found, so it needs no slot.
  let lastS = -1;
  let lastL = -1;
  let lastW = -1;
  // Whitespace runs are followed a few characters past hi, enough to see a "\r\n\r\n" at the edge.
  const runLimit = Math.min(text.length, hi + 4);

  let j = hi - 1;
  // A run starting exactly at hi makes hi a boundary (the chunk then ends right before the whitespace).
  if (cls(text, hi) & WS && (cls(text, j) & WS) === 0) {
    const level = runLevel(countNewlines(text, hi, runLimit), sentenceStateBefore(text, hi));
    if (level === PARAGRAPH) return hi;
    if (level === SENTENCE) lastS = hi;
    if (level <= LINE) lastL = hi;
    lastW = hi;
  }

  // Phase 1 looks at cuts >= tSentence only (j + 1 >= floor + 1): the last paragraph break there wins, else
  // the last sentence end, line or word boundary past its threshold. Phase 2, entered only if none of those
  // exists, goes on down to minCut for the best boundary anywhere.
  let floor = Math.max(minCut, Math.ceil(tSentence) - 1);
  for (;;) {
    while (j >= floor) {
      const k = cls(text, j);
      if (k === 0) {
        j--; // an ordinary character: the common case
        continue;
      }
      let cut: number;
      let level: number;
      if ((k & WS) === 0) {
        // A CJK sentence end needs no whitespace: cut before the first character that is not a closer.
        const isCjkCut =
          (cls(text, j + 1) & (WS | TERMINAL | CLOSER)) === 0 && sentenceStateBefore(text, j + 1) === CJK_END;
        j--;
        if (!isCjkCut) continue;
        cut = j + 2;
        level = SENTENCE;
      } else if (k === WS && lastW >= 0 && cls(text, j - 1) === 0) {
        // A lone space or tab between ordinary characters: a plain word boundary, and one was recorded already.
        j -= 2;
        continue;
      } else {
        const runEnd = j + 1;
        let newlines = 0;
        for (let c = k; j >= start && c & WS; c = cls(text, --j)) {
          if (c & NL) newlines++;
        }
        const runStart = j + 1;
        cut = runEnd;
        if (runEnd === hi && cls(text, hi) & WS) {
          // The run goes on past the window: cut inside it, but not between "\r" and "\n".
          newlines += countNewlines(text, hi, runLimit);
          cut = cutInRunAtLimit(text, runStart, hi);
          if (cut <= minCut) continue;
        }
        level = runLevel(newlines, sentenceStateBefore(text, runStart));
      }
      // The last paragraph break past the threshold or, in phase 2, the last one anywhere.
      if (level === PARAGRAPH) return cut;
      if (level === SENTENCE) {
        // In phase 2 nothing better can come: the last sentence end beats any earlier paragraph break.
        if (floor === minCut && cut < tSentence) return cut;
        if (lastS < 0) lastS = cut;
      }
      if (level <= LINE && lastL < 0) lastL = cut;
      if (lastW < 0) lastW = cut;
    }
    if (floor === minCut || lastS >= 0 || lastW >= tWord) break;
    floor = minCut;
  }

  if (lastS >= 0) return lastS;
  if (lastL >= tWord) return lastL;
  if (lastW >= tWord) return lastW;
  // No boundary in the fuller part of the window: take the best one anywhere rather than cut mid-word.
  if (lastL >= 0) return lastL;
  if (lastW >= 0) return lastW;
  // No boundary at all (e.g. one huge word): cut at the limit, but never inside a surrogate pair. hi - 1 >
  // minCut holds here because overlapStart leaves room for a whole code point after the previous end.
  if (splitsSurrogatePair(text, hi)) return hi - 1;
  if (splitsCrlf(text, hi) && hi - 1 > minCut) return hi - 1;
  return hi;
}

function runLevel(newlines: number, sentenceState: number): number {
  if (newlines >= 2) return PARAGRAPH;
  if (sentenceState !== 0) return SENTENCE;
  return newlines === 1 ? LINE : WORD;
}

/** Newlines in the whitespace run starting at `from`, looking no further than `limit`. */
function countNewlines(text: string, from: number, limit: number): number {
  let count = 0;
  for (let i = from; i < limit; i++) {
    const k = cls(text, i);
    if ((k & WS) === 0) break;
    if (k & NL) count++;
  }
  return count;
}

/**
 * Sentence state (0, LATIN_END or CJK_END) of the text right before `i`: a terminal followed by at most three
 * closers. The number of an ordered list item ("\n12. item") is not a sentence end.
 */
function sentenceStateBefore(text: string, i: number): number {
  // A few closers at most; stop early so the cost stays O(1).
  for (let j = i - 1, steps = 0; j >= 0 && steps < 4; j--, steps++) {
    const k = cls(text, j);
    if (k & TERMINAL) return isListNumber(text, j) ? 0 : k & TERMINAL;
    if ((k & CLOSER) === 0) return 0;
  }
  return 0;
}

/** True if the character at `dot` is the "." of a line-leading number of at most 9 digits ("  3. "). */
function isListNumber(text: string, dot: number): boolean {
  if (text.charCodeAt(dot) !== 0x2e) return false;
  let p = dot - 1;
  while (p >= 0 && dot - p <= 9 && isDigit(text.charCodeAt(p))) p--;
  if (p === dot - 1) return false;
  // Indentation, bounded so the cost stays O(1).
  for (
    let spaces = 0;
    p >= 0 && spaces < 16 && (text.charCodeAt(p) === 0x20 || text.charCodeAt(p) === 0x09);
    spaces++
  ) {
    p--;
  }
  return p < 0 || text.charCodeAt(p) === 0x0a;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Start of the chunk after [start, end): the earliest sentence start (else word start) in the last
 * chunkOverlap characters of the previous chunk, so the overlap is made of whole pieces; `end` (no overlap)
 * if there is none. The result s satisfies start < s <= end and end - s <= chunkOverlap, and leaves room
 * for the next chunk to reach past `end` by a whole code point.
 */
function overlapStart(
  text: string,
  start: number,
  end: number,
  chunkSize: number,
  chunkOverlap: number,
): number {
  const need = splitsSurrogatePair(text, end + 1) ? 2 : 1;
  const lo = Math.max(start + 1, end - Math.min(chunkOverlap, chunkSize - need));
  if (lo >= end) return end;

  let prevWs = (cls(text, lo - 1) & WS) !== 0;
  // Sentence state of the last non-whitespace text before lo; unlike in findCut, whitespace keeps it.
  let j = lo - 1;
  while (j > start && cls(text, j) & WS) j--;
  let state = sentenceStateBefore(text, j + 1);

  let firstWord = -1;
  let firstSentence = -1;
  // Once a word start is known, a sentence start past the midpoint of [firstWord, end) would be rejected
  // below anyway, so the scan stops there.
  let limit = end;
  for (let i = lo; i < limit; i++) {
    const k = cls(text, i);
    if (k & WS) {
      prevWs = true;
      continue;
    }
    if (prevWs || (state === CJK_END && (k & (CLOSER | TERMINAL)) === 0)) {
      if (firstWord < 0) {
        firstWord = i;
        limit = Math.floor((end + firstWord) / 2) + 1;
      }
      if (state !== 0) {
        firstSentence = i;
        break;
      }
    }
    prevWs = false;
    if (k & TERMINAL) state = isListNumber(text, i) ? 0 : k & TERMINAL;
    else if ((k & CLOSER) === 0) state = 0;
  }
  // A sentence start gives a cleaner overlap, unless it keeps less than half of what a word start would.
  if (firstSentence >= 0 && 2 * (end - firstSentence) >= end - firstWord) return firstSentence;
  return firstWord >= 0 ? firstWord : end;
}
