/**
 * 1. Chunker: graphmill's `chunkText` (from the package main) against LangChain's
 * RecursiveCharacterTextSplitter, both at 1000/200, on the same generated corpus of ≥ 20 MB, one document
 * at a time as an ingestion pipeline calls them. LangChain's `splitText` is async and is awaited as designed.
 * Throughput is UTF-8 megabytes (10^6 bytes) of input per second. Chunk quality: the boundary share of
 * bench/boundary.ts, for both.
 */
import { RecursiveCharacterTextSplitter } from '@langchain/textsplitters';
import { chunkText } from '../../functions/index';
import {
  boundaryShare,
  countBoundaries,
  emptyCounts,
  locateChunks,
  type BoundaryCounts,
  type Span,
} from '../boundary';
import { generateCorpus, type CorpusDocument, type DocKind } from '../corpus';
import type { SuiteContext, SuiteResult } from '../report';
import { fmt, fmtRatio, fmtSummary } from '../report';
import { nowMs, round, summarize } from '../stats';

export const CHUNKING = { chunkSize: 1000, chunkOverlap: 200 } as const;
export const CORPUS_SEED = 20_240_607;

interface Quality {
  counts: BoundaryCounts;
  byKind: Record<string, BoundaryCounts>;
  chunks: number;
  meanLength: number;
  /** Mean number of characters shared by consecutive chunks. */
  meanOverlap: number;
}

function quality(docs: readonly CorpusDocument[], spansOf: (d: CorpusDocument) => Span[]): Quality {
  const counts = emptyCounts();
  const byKind: Partial<Record<DocKind, BoundaryCounts>> = {};
  let chunks = 0;
  let length = 0;
  let overlap = 0;
  let pairs = 0;
  for (const d of docs) {
    const spans = spansOf(d);
    countBoundaries(d.text, spans, counts);
    countBoundaries(d.text, spans, (byKind[d.kind] ??= emptyCounts()));
    chunks += spans.length;
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i] as Span;
      length += s.end - s.start;
      const next = spans[i + 1];
      if (next) {
        overlap += Math.max(0, s.end - next.start);
        pairs++;
      }
    }
  }
  return { counts, byKind, chunks, meanLength: length / chunks, meanOverlap: overlap / Math.max(1, pairs) };
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

export async function runChunker(ctx: SuiteContext): Promise<SuiteResult> {
  const totalChars = ctx.quick ? 2 * 1024 * 1024 : 20 * 1024 * 1024;
  const reps = ctx.reps ?? (ctx.quick ? 1 : 7);
  const docs = generateCorpus({ seed: CORPUS_SEED, totalChars });
  const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d.text, 'utf8'), 0);
  const mb = bytes / 1e6;
  ctx.log(
    `chunker: corpus of ${docs.length} documents, ${fmt(mb, 1)} MB; ${reps} repetitions after 1 warm-up and 1 calibration`,
  );

  const splitter = new RecursiveCharacterTextSplitter(CHUNKING);
  let sink = 0; // keeps the results observable so no work can be skipped

  const runGraphmill = (): void => {
    for (const d of docs) sink += chunkText(d.text, CHUNKING).length;
  };
  const runLangchain = async (): Promise<void> => {
    for (const d of docs) sink += (await splitter.splitText(d.text)).length;
  };

  // One pass of the corpus takes well under a second for graphmill, so each sample repeats the corpus enough
  // times to last about SAMPLE_MS: short samples are at the mercy of the scheduler and the GC.
  interface Sample {
    wallMs: number;
    cpuMs: number;
  }
  const timed = async (run: () => Promise<void> | void, passes: number): Promise<Sample> => {
    gc();
    const c0 = process.cpuUsage();
    const t0 = nowMs();
    for (let p = 0; p < passes; p++) await run();
    const wallMs = (nowMs() - t0) / passes;
    const c = process.cpuUsage(c0);
    return { wallMs, cpuMs: (c.user + c.system) / 1000 / passes };
  };
  await timed(runGraphmill, 1); // warm-up (JIT)
  await timed(runLangchain, 1);
  const sampleMs = ctx.quick ? 200 : 1500;
  const gPasses = Math.max(1, Math.ceil(sampleMs / (await timed(runGraphmill, 1)).wallMs));
  const lPasses = Math.max(1, Math.ceil(sampleMs / (await timed(runLangchain, 1)).wallMs));
  // Alternate the two in every repetition so that background load hits both alike.
  const gSamples: Sample[] = [];
  const lSamples: Sample[] = [];
  for (let rep = 0; rep < reps; rep++) {
    if (rep % 2 === 0) {
      gSamples.push(await timed(runGraphmill, gPasses));
      lSamples.push(await timed(runLangchain, lPasses));
    } else {
      lSamples.push(await timed(runLangchain, lPasses));
      gSamples.push(await timed(runGraphmill, gPasses));
    }
  }
  // Throughput per CPU-second (the figure and the target) and per wall-second (shown alongside): on an idle
  // machine they agree; under other load, CPU time leaves out the time spent waiting for a core.
  const throughput = (xs: readonly Sample[], pick: (x: Sample) => number) =>
    summarize(xs.map((x) => mb / (pick(x) / 1000)));
  const g = throughput(gSamples, (x) => x.cpuMs);
  const l = throughput(lSamples, (x) => x.cpuMs);
  const gWall = throughput(gSamples, (x) => x.wallMs);
  const lWall = throughput(lSamples, (x) => x.wallMs);
  const perRep = summarize(gSamples.map((x, i) => (lSamples[i] as Sample).cpuMs / x.cpuMs));
  const ratio = g.median / l.median;
  const wallRatio = gWall.median / lWall.median;

  // Quality, untimed.
  const gq = quality(docs, (d) => chunkText(d.text, CHUNKING));
  const chunksOf = new Map<string, string[]>();
  for (const d of docs) chunksOf.set(d.id, await splitter.splitText(d.text));
  const lq = quality(docs, (d) => locateChunks(d.text, chunksOf.get(d.id) ?? []));
  const gShare = boundaryShare(gq.counts);
  const lShare = boundaryShare(lq.counts);
  const shareByKind = (q: Quality): Record<string, number> =>
    Object.fromEntries(Object.entries(q.byKind).map(([k, c]) => [k, round(boundaryShare(c), 4)]));

  return {
    suite: 'chunker',
    rows: [
      {
        suite: 'chunker',
        measure: 'chunker throughput (MB per CPU-second)',
        graphmill: fmtSummary(g, 0),
        peer: `LangChain ${fmtSummary(l, 0)}`,
        ratio: fmtRatio(ratio, 1),
        target: '≥ 5×',
        pass: ratio >= 5,
        note: `${fmt(mb, 1)} MB, ${docs.length} docs; per-rep ratio ${fmtRatio(perRep.min, 1)}–${fmtRatio(perRep.max, 1)}; wall-clock MB/s ${fmt(gWall.median)} vs ${fmt(lWall.median)} (${fmtRatio(wallRatio, 1)})`,
      },
      {
        suite: 'chunker',
        measure: 'chunks ending on a paragraph/sentence boundary',
        graphmill: `${(gShare * 100).toFixed(1)} %`,
        peer: `LangChain ${(lShare * 100).toFixed(1)} %`,
        ratio: `${((gShare - lShare) * 100).toFixed(1)} pt`,
        target: '≥ LangChain',
        pass: gShare >= lShare,
        note: `mean chunk ${fmt(gq.meanLength)} vs ${fmt(lq.meanLength)} chars, ${fmt(gq.chunks)} vs ${fmt(lq.chunks)} chunks`,
      },
    ],
    details: {
      corpus: {
        seed: CORPUS_SEED,
        documents: docs.length,
        chars: docs.reduce((n, d) => n + d.text.length, 0),
        bytes,
      },
      chunking: CHUNKING,
      reps,
      warmup: 1,
      passesPerSample: { graphmill: gPasses, langchain: lPasses },
      graphmillMBperCpuSecond: g,
      langchainMBperCpuSecond: l,
      graphmillMBperWallSecond: gWall,
      langchainMBperWallSecond: lWall,
      ratio,
      wallRatio,
      perRepRatio: perRep,
      quality: {
        graphmill: { share: gShare, ...gq, shareByKind: shareByKind(gq) },
        langchain: { share: lShare, ...lq, shareByKind: shareByKind(lq) },
      },
      sink,
    },
  };
}
