/**
 * Chunk quality, measured the same way for every splitter: where does each chunk end?
 *
 * A splitter may keep or trim the whitespace at a cut (graphmill keeps it, LangChain trims it), so a cut is
 * judged by the text around it with the whitespace on both sides ignored:
 * - `end`: only whitespace follows;
 * - `paragraph`: the whitespace around the cut holds two or more newlines;
 * - `sentence`: the last non-whitespace character before the cut, after skipping closing quotes and brackets,
 *   is a sentence terminal (. ! ? … or a CJK terminal), the cut touches whitespace (or follows a CJK
 *   terminal), and the terminal is not the dot of an ordered-list marker ("\n3.") or of a common
 *   abbreviation ("e.g.", "Dr.");
 * - `line`: exactly one newline;
 * - `other`: anything else (mid-line, mid-word).
 *
 * The boundary share is the share of non-final chunks of a document whose cut is a paragraph or sentence
 * boundary (or `end`). The final chunk of a document ends at the end of the text whatever the splitter does,
 * so it is left out.
 */

export type BoundaryKind = 'end' | 'paragraph' | 'sentence' | 'line' | 'other';

export interface Span {
  readonly start: number;
  readonly end: number;
}

const LATIN_TERMINALS = '.!?…';
const CJK_TERMINALS = '。！？｡';
const CLOSERS = '"\')]»’”〉》」』】）*_`';
/** Lower-cased words whose trailing dot does not end a sentence. */
const ABBREVIATIONS = new Set([
  'e.g',
  'i.e',
  'etc',
  'approx',
  'vs',
  'cf',
  'dr',
  'mr',
  'ms',
  'mrs',
  'prof',
  'fig',
]);

const isWs = (c: number): boolean =>
  c === 0x20 ||
  (c >= 0x09 && c <= 0x0d) ||
  c === 0xa0 ||
  c === 0x2028 ||
  c === 0x2029 ||
  c === 0x3000 ||
  c === 0xfeff;

/** How a chunk ending at `end` (exclusive offset into `text`) ends. */
export function boundaryKind(text: string, end: number): BoundaryKind {
  let before = end - 1;
  while (before >= 0 && isWs(text.charCodeAt(before))) before--;
  let after = end;
  while (after < text.length && isWs(text.charCodeAt(after))) after++;
  if (after >= text.length) return 'end';
  let newlines = 0;
  for (let i = before + 1; i < after; i++) if (text.charCodeAt(i) === 0x0a) newlines++;
  if (newlines >= 2) return 'paragraph';
  let t = before;
  while (t >= 0 && CLOSERS.includes(text.charAt(t))) t--;
  const terminal = text.charAt(t);
  const gap = after > before + 1;
  if (t >= 0 && CJK_TERMINALS.includes(terminal)) return 'sentence';
  if (t >= 0 && LATIN_TERMINALS.includes(terminal) && gap && !isFalseSentenceEnd(text, t)) return 'sentence';
  return newlines === 1 ? 'line' : 'other';
}

/** True if the "." at `dot` belongs to an ordered-list marker or a known abbreviation. */
function isFalseSentenceEnd(text: string, dot: number): boolean {
  if (text.charCodeAt(dot) !== 0x2e) return false;
  let p = dot - 1;
  while (p >= 0 && text.charCodeAt(p) !== 0x0a && !isWs(text.charCodeAt(p))) p--;
  const word = text.slice(p + 1, dot);
  if (/^\d{1,9}$/.test(word)) {
    // "3." at the start of a line (after optional indentation) is a list marker.
    let q = p;
    while (q >= 0 && (text.charCodeAt(q) === 0x20 || text.charCodeAt(q) === 0x09)) q--;
    return q < 0 || text.charCodeAt(q) === 0x0a;
  }
  return ABBREVIATIONS.has(word.replace(/^[("'“‘[]+/, '').toLowerCase());
}

export interface BoundaryCounts {
  /** Non-final chunks judged. */
  cuts: number;
  paragraph: number;
  sentence: number;
  line: number;
  other: number;
  /** Non-final chunks followed only by whitespace. */
  end: number;
}

export function emptyCounts(): BoundaryCounts {
  return { cuts: 0, paragraph: 0, sentence: 0, line: 0, other: 0, end: 0 };
}

/** Adds the cuts of one document's chunks (in order) to `into`; the last chunk is not a cut. */
export function countBoundaries(
  text: string,
  spans: readonly Span[],
  into: BoundaryCounts = emptyCounts(),
): BoundaryCounts {
  for (let i = 0; i < spans.length - 1; i++) {
    const span = spans[i] as Span;
    into.cuts++;
    into[boundaryKind(text, span.end)]++;
  }
  return into;
}

/** Share of cuts on a paragraph or sentence boundary (or followed only by whitespace), in [0, 1]. */
export function boundaryShare(counts: BoundaryCounts): number {
  return counts.cuts === 0 ? 1 : (counts.paragraph + counts.sentence + counts.end) / counts.cuts;
}

/**
 * Offsets of chunk texts that are substrings of `text`, in order (LangChain returns strings only). Each chunk
 * is searched from the previous chunk's start, so overlapping chunks are found at their real position.
 * Throws if a chunk is not in the text. (LangChain's own `createDocuments` searches from the previous start
 * + 1, which misses a chunk that starts at the same offset as the previous one once both are trimmed.)
 */
export function locateChunks(text: string, chunks: readonly string[]): Span[] {
  const spans: Span[] = [];
  let from = 0;
  for (const chunk of chunks) {
    const start = text.indexOf(chunk, from);
    if (start < 0)
      throw new Error(
        `chunk not found in the text after offset ${from}: ${JSON.stringify(chunk.slice(0, 60))}`,
      );
    spans.push({ start, end: start + chunk.length });
    // Not start + 1: after trimming, two chunks may start at the same offset (the second one's leading
    // whitespace-only pieces were trimmed away).
    from = start;
  }
  return spans;
}
