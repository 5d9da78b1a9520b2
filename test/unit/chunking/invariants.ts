/**
 * Invariants every chunking of every text must satisfy. Shared by the unit tests and later integration
 * tests (e.g. on chunks read back from Neo4j), so it throws plain Errors instead of relying on `expect`.
 */
import type { Chunk, ChunkOptions } from '../../../shared/chunking';

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** True if offset `i` falls between the two halves of a surrogate pair. */
export function splitsSurrogatePair(text: string, i: number): boolean {
  return (
    i > 0 && i < text.length && isHighSurrogate(text.charCodeAt(i - 1)) && isLowSurrogate(text.charCodeAt(i))
  );
}

function fail(message: string, chunk?: Chunk): never {
  const where = chunk
    ? ` (chunk ${chunk.index}: [${chunk.start}, ${chunk.end}) ${JSON.stringify(chunk.text)})`
    : '';
  throw new Error(`chunk invariant violated: ${message}${where}`);
}

/**
 * Asserts that `chunks` is a valid chunking of `text` under `opts`:
 * - empty text has no chunks; other text (whitespace-only included) has at least one, the first starting
 *   at 0 and the last ending at text.length;
 * - index is 0..n-1; 0 <= start < end <= text.length; text.slice(start, end) === chunk.text;
 * - 1 <= length <= chunkSize;
 * - consecutive chunks leave no gap (start <= previous end), make progress (start > previous start, end >
 *   previous end) and overlap by at most chunkOverlap (previous end - start <= chunkOverlap);
 * - no chunk starts or ends inside a surrogate pair.
 */
export function assertChunkInvariants(text: string, chunks: readonly Chunk[], opts: ChunkOptions): void {
  const { chunkSize, chunkOverlap } = opts;
  if (text.length === 0) {
    if (chunks.length !== 0) fail(`empty text produced ${chunks.length} chunks`);
    return;
  }
  const first = chunks[0];
  const last = chunks[chunks.length - 1];
  if (first === undefined || last === undefined) return fail('non-empty text produced no chunks');
  if (first.start !== 0) fail(`first chunk starts at ${first.start}, not 0`, first);
  if (last.end !== text.length) fail(`last chunk ends at ${last.end}, not text.length ${text.length}`, last);

  let prev: Chunk | undefined;
  chunks.forEach((chunk, i) => {
    const { start, end } = chunk;
    if (chunk.index !== i) fail(`index ${chunk.index} at position ${i}`, chunk);
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(end) ||
      start < 0 ||
      end > text.length ||
      start >= end
    ) {
      fail('offsets out of range or empty', chunk);
    }
    if (text.slice(start, end) !== chunk.text) fail('text differs from text.slice(start, end)', chunk);
    if (chunk.text.length < 1 || chunk.text.length > chunkSize) {
      fail(`length ${chunk.text.length} outside [1, ${chunkSize}]`, chunk);
    }
    if (splitsSurrogatePair(text, start)) fail('starts inside a surrogate pair', chunk);
    if (splitsSurrogatePair(text, end)) fail('ends inside a surrogate pair', chunk);
    if (prev) {
      if (start > prev.end) fail(`gap after previous end ${prev.end}`, chunk);
      if (start <= prev.start) fail(`no progress: start <= previous start ${prev.start}`, chunk);
      if (end <= prev.end) fail(`no new text: end <= previous end ${prev.end}`, chunk);
      if (prev.end - start > chunkOverlap) {
        fail(`overlap ${prev.end - start} exceeds chunkOverlap ${chunkOverlap}`, chunk);
      }
    }
    prev = chunk;
  });
}
