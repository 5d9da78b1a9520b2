/**
 * The GraphWriter contract: what every GraphWriter promises, as one suite run against the memory writer
 * (graph-writer.contract.test.ts, unit project) and the Neo4j writer (test/integration/
 * graph-writer-contract.int.test.ts), so the memory writer the unit and chaos suites rely on cannot drift
 * from Neo4j. What a writer committed is read back through a small adapter per subject.
 */
import { chunkText, iterateChunks, type Chunk } from '../../shared/chunking';
import type {
  DocumentMeta,
  DocumentWrite,
  GraphWriter,
  WriteProgress,
} from '../../shared/ports/graph-writer';

/** A chunk of the visible version, with the generation it was written in. */
export interface VisibleChunk extends Chunk {
  readonly generation: number;
}

/** The version readers see. */
export interface VisibleDocument {
  readonly generation: number;
  readonly chunkCount: number;
  readonly contentHash: string;
  readonly chunkSize: number;
  readonly chunkOverlap: number;
  readonly writeToken: string | undefined;
  /** In index order. */
  readonly chunks: readonly VisibleChunk[];
}

export interface StoredDocument {
  readonly visible: VisibleDocument | undefined;
  /** Every chunk the store holds for the document, visible or not. */
  readonly storedChunks: number;
  /** Invariants of the visible version the store itself can check (links, chunk ids); empty = ok. */
  readonly problems: readonly string[];
}

export interface GraphWriterSubject<W extends GraphWriter> {
  makeWriter(batchSize: number): W;
  readBack(writer: W, documentId: string): Promise<StoredDocument>;
  /** Document ids of this run: a shared database holds other runs' documents too. */
  id(name: string): string;
}

const BATCH = 10;
const OPTS = { chunkSize: 80, chunkOverlap: 20 };

/** Prose with sentences and a paragraph break every third sentence, tagged so versions differ. */
export const paragraph = (n: number, tag: string): string =>
  Array.from(
    { length: n },
    (_, i) => `Sentence ${i} of ${tag} explains one idea. It has a second clause too.`,
  )
    .map((s, i) => (i % 3 === 2 ? `${s}\n\n` : `${s} `))
    .join('');

const meta = (docId: string, text: string, extra: Partial<DocumentMeta> = {}): DocumentMeta => ({
  id: docId,
  title: docId,
  source: 'inline:',
  contentHash: `h-${text.length}-${text.slice(0, 8)}`,
  ...OPTS,
  ...extra,
});

/** The chunks a reader must see for `text` written in `generation`. */
const expectedChunks = (text: string, generation: number, opts = OPTS): VisibleChunk[] =>
  chunkText(text, opts).map((c) => ({ ...c, generation }));

export function graphWriterContract<W extends GraphWriter>(
  name: string,
  subject: GraphWriterSubject<W>,
): void {
  describe(`GraphWriter contract: ${name}`, () => {
    let writer: W;
    beforeEach(() => {
      writer = subject.makeWriter(BATCH);
    });

    /** The stored document, after checking the store's own invariants. */
    const stored = async (docId: string): Promise<StoredDocument> => {
      const s = await subject.readBack(writer, docId);
      expect(s.problems).toEqual([]);
      return s;
    };

    it('has the batch size it was made with', () => {
      expect(writer.batchSize).toBe(BATCH);
    });

    it('writes a small document in one go, and reports it as the current version', async () => {
      const docId = subject.id('small');
      const text = paragraph(4, 'small');
      const chunks = chunkText(text, OPTS);
      expect(chunks.length).toBeLessThanOrEqual(BATCH);
      const progress: WriteProgress[] = [];
      const res = await writer.writeDocument(meta(docId, text), chunks, (p) => void progress.push(p));
      expect(res).toEqual({ chunkCount: chunks.length, generation: 1 });
      expect(progress).toEqual([]); // one batch: nothing is staged
      const s = await stored(docId);
      expect(s.visible?.chunks).toEqual(expectedChunks(text, 1));
      expect(s.storedChunks).toBe(chunks.length);
      expect(await writer.currentVersion(docId)).toEqual({
        generation: 1,
        contentHash: meta(docId, text).contentHash,
        chunkSize: 80,
        chunkOverlap: 20,
        chunkCount: chunks.length,
      });
    });

    it('has no current version for a document it never wrote', async () => {
      expect(await writer.currentVersion(subject.id('never-written'))).toBeUndefined();
    });

    it('writes a multi-batch document lazily with progress, and a rewrite leaves only the new chunks', async () => {
      const docId = subject.id('large');
      const v1 = paragraph(60, 'first');
      const progress: WriteProgress[] = [];
      const first = await writer.writeDocument(meta(docId, v1), iterateChunks(v1, OPTS), (p) => {
        progress.push(p);
      });
      const all = chunkText(v1, OPTS);
      expect(all.length).toBeGreaterThan(2 * BATCH);
      expect(first).toEqual({ chunkCount: all.length, generation: 1 });
      // After each staged batch: the chunks written so far and the text offset they reach.
      const ends = Array.from({ length: Math.ceil(all.length / BATCH) }, (_, i) =>
        Math.min((i + 1) * BATCH, all.length),
      );
      expect(progress).toEqual(ends.map((n) => ({ chunksWritten: n, textOffset: all[n - 1]?.end })));
      expect((await stored(docId)).visible?.chunks).toEqual(expectedChunks(v1, 1));

      const v2 = paragraph(45, 'second');
      const second = await writer.writeDocument(meta(docId, v2), iterateChunks(v2, OPTS));
      expect(second).toEqual({ chunkCount: chunkText(v2, OPTS).length, generation: 2 });
      const s = await stored(docId);
      expect(s.visible).toMatchObject({ generation: 2, chunkCount: second.chunkCount });
      expect(s.visible?.chunks).toEqual(expectedChunks(v2, 2));
      expect(s.visible?.chunks.some((c) => c.text.includes('first'))).toBe(false);
      expect(s.storedChunks).toBe(second.chunkCount);
    });

    it.each([
      ['small', 4],
      ['large', 60],
    ])(
      'skipIfUnchanged leaves a %s document as it is when content and chunk settings match, and only then',
      async (kind, paragraphs) => {
        const docId = subject.id(`skip-${kind}`);
        const text = paragraph(paragraphs, kind);
        const chunks = () => iterateChunks(text, OPTS);
        const skip = { skipIfUnchanged: true };
        const first = await writer.writeDocument(
          meta(docId, text, { writeToken: 'run-1' }),
          chunks(),
          undefined,
          skip,
        );
        expect(first).toEqual({ chunkCount: chunkText(text, OPTS).length, generation: 1 });
        const before = await stored(docId);

        const again = await writer.writeDocument(
          meta(docId, text, { writeToken: 'run-2' }),
          chunks(),
          undefined,
          skip,
        );
        expect(again).toEqual({ chunkCount: first.chunkCount, generation: 1, unchanged: true });
        const after = await stored(docId);
        expect(after.visible?.chunks).toEqual(before.visible?.chunks);
        expect(after.visible?.writeToken).toBe('run-1');

        // Other chunk settings, other content, or no skip asked: written again.
        const rechunked = await writer.writeDocument(
          meta(docId, text, { chunkOverlap: 10 }),
          iterateChunks(text, { ...OPTS, chunkOverlap: 10 }),
          undefined,
          skip,
        );
        expect(rechunked).toMatchObject({ generation: 2 });
        expect(rechunked.unchanged).toBeUndefined();
        expect((await stored(docId)).visible?.chunks).toEqual(
          expectedChunks(text, 2, { ...OPTS, chunkOverlap: 10 }),
        );
        const v2 = paragraph(paragraphs, `${kind}-v2`);
        const changed = await writer.writeDocument(meta(docId, v2), iterateChunks(v2, OPTS), undefined, skip);
        expect(changed).toMatchObject({ generation: 3 });
        const forced = await writer.writeDocument(meta(docId, v2), iterateChunks(v2, OPTS));
        expect(forced).toMatchObject({ generation: 4 });
        const s = await stored(docId);
        expect(s.visible?.chunks).toEqual(expectedChunks(v2, 4));
        expect(s.storedChunks).toBe(forced.chunkCount);
      },
    );

    it.each([
      ['small', 4],
      ['multi-batch', 60],
    ])('changes nothing when a %s write is replayed with the same write token', async (kind, paragraphs) => {
      const docId = subject.id(`token-${kind}`);
      const text = paragraph(paragraphs, 'token');
      const first = await writer.writeDocument(
        meta(docId, text, { writeToken: 'run-1' }),
        iterateChunks(text, OPTS),
      );
      const before = await stored(docId);
      const replay = await writer.writeDocument(
        meta(docId, text, { writeToken: 'run-1' }),
        iterateChunks(text, OPTS),
      );
      expect(replay).toEqual(first);
      const after = await stored(docId);
      expect(after.visible).toMatchObject({ generation: 1, writeToken: 'run-1' });
      expect(after.visible?.chunks).toEqual(before.visible?.chunks);
      const next = await writer.writeDocument(
        meta(docId, text, { writeToken: 'run-2' }),
        iterateChunks(text, OPTS),
      );
      expect(next).toEqual({ chunkCount: first.chunkCount, generation: 2 });
    });

    it('an empty document has a version and no chunks', async () => {
      const docId = subject.id('empty');
      expect(await writer.writeDocument(meta(docId, ''), [])).toEqual({ chunkCount: 0, generation: 1 });
      const s = await stored(docId);
      expect(s.visible).toMatchObject({ generation: 1, chunkCount: 0, chunks: [] });
      expect(s.storedChunks).toBe(0);
      expect(await writer.currentVersion(docId)).toMatchObject({ generation: 1, chunkCount: 0 });
    });

    it('deletes a document and all its chunks, and says whether it existed', async () => {
      const docId = subject.id('deleted');
      const text = paragraph(30, 'doomed');
      await writer.writeDocument(meta(docId, text), iterateChunks(text, OPTS));
      expect(await writer.deleteDocument(docId)).toBe(true);
      const s = await stored(docId);
      expect(s.visible).toBeUndefined();
      expect(s.storedChunks).toBe(0);
      expect(await writer.currentVersion(docId)).toBeUndefined();
      expect(await writer.deleteDocument(docId)).toBe(false);
      expect(await writer.deleteDocument(subject.id('never-existed'))).toBe(false);
    });

    describe('writeDocuments (group commit)', () => {
      const texts = (tag: string, n: number): [string, string][] =>
        Array.from({ length: n }, (_, i) => [
          subject.id(`group-${tag}-${i}`),
          paragraph(2 + (i % 3), `${tag}${i}`),
        ]);
      const writes = (
        docs: [string, string][],
        extra: { skipIfUnchanged?: boolean; writeToken?: string } = {},
      ): DocumentWrite[] =>
        docs.map(([docId, text]) => ({
          meta: meta(docId, text, extra.writeToken ? { writeToken: extra.writeToken } : {}),
          chunks: chunkText(text, OPTS),
          ...(extra.skipIfUnchanged ? { skipIfUnchanged: true } : {}),
        }));

      it('writes several documents, with results in input order', async () => {
        const docs = texts('new', 5);
        const res = await writer.writeDocuments(writes(docs));
        expect(res.map((r) => r.id)).toEqual(docs.map(([d]) => d));
        for (const [i, [docId, text]] of docs.entries()) {
          expect(res[i]).toEqual({
            id: docId,
            outcome: 'written',
            generation: 1,
            chunkCount: chunkText(text, OPTS).length,
          });
          expect((await stored(docId)).visible?.chunks).toEqual(expectedChunks(text, 1));
        }
      });

      it('accepts an empty group', async () => {
        expect(await writer.writeDocuments([])).toEqual([]);
      });

      it('replaces existing documents, skips unchanged ones when asked, and rewrites them otherwise', async () => {
        const docs = texts('replace', 3);
        await writer.writeDocuments(writes(docs));
        const [first, second, third] = docs as [[string, string], [string, string], [string, string]];
        const changed: [string, string] = [second[0], paragraph(4, 'changed')];

        const res = await writer.writeDocuments(writes([first, changed, third], { skipIfUnchanged: true }));
        expect(res.map((r) => [r.id, r.outcome, r.generation])).toEqual([
          [first[0], 'unchanged', 1],
          [second[0], 'written', 2],
          [third[0], 'unchanged', 1],
        ]);
        const s = await stored(changed[0]);
        expect(s.visible?.chunks).toEqual(expectedChunks(changed[1], 2));
        expect(s.storedChunks).toBe(chunkText(changed[1], OPTS).length);

        const again = await writer.writeDocuments(writes([first]));
        expect(again[0]).toMatchObject({ outcome: 'written', generation: 2 });
        expect((await stored(first[0])).visible?.chunks).toEqual(expectedChunks(first[1], 2));
      });

      it('changes nothing when the same write (same token) is replayed after a lost COMMIT reply', async () => {
        const docs = texts('token', 2);
        await writer.writeDocuments(writes(docs, { writeToken: 'run-1' }));
        const replay = await writer.writeDocuments(writes(docs, { writeToken: 'run-1' }));
        expect(replay.map((r) => [r.outcome, r.generation])).toEqual([
          ['written', 1],
          ['written', 1],
        ]);
        const next = await writer.writeDocuments(writes(docs, { writeToken: 'run-2' }));
        expect(next.map((r) => r.generation)).toEqual([2, 2]);
      });

      it('refuses an empty document, one larger than a batch, and a repeated id, before writing anything', async () => {
        const [[docId, text], [otherId, otherText]] = texts('refused', 2) as [
          [string, string],
          [string, string],
        ];
        const [ok, other] = writes([
          [docId, text],
          [otherId, otherText],
        ]) as [DocumentWrite, DocumentWrite];
        const many = chunkText(paragraph(40, 'many'), OPTS);
        expect(many.length).toBeGreaterThan(BATCH);
        // The refused document comes after a valid one: the group is checked before anything is written.
        await expect(writer.writeDocuments([other, { ...ok, chunks: [] }])).rejects.toThrow(/1 to 10/);
        await expect(writer.writeDocuments([other, { ...ok, chunks: many }])).rejects.toThrow(/1 to 10/);
        await expect(writer.writeDocuments([other, ok, ok])).rejects.toThrow(/given twice/);
        for (const d of [docId, otherId]) {
          expect((await stored(d)).visible).toBeUndefined();
          expect(await writer.currentVersion(d)).toBeUndefined();
        }
      });
    });
  });
}
