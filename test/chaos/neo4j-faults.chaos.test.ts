/**
 * Neo4j faults: a batch ingest (local mode, SQLite state, the in-process bus) into a Neo4j of this
 * suite's own, reached through a TCP fault proxy that drops 5% of new connections, cuts established
 * ones and adds latency spikes, while the server is SIGKILLed and restarted. A concurrent reader
 * checks, under the document lock, that no committed state ever shows a partial document.
 *
 * Afterwards: every document is completed or dead-lettered with a reason; replaying the dead letters
 * (replayDue through replayOperation, graphmill's clock moved past their schedules) completes the rest
 * once Neo4j is healthy; and the graph equals a clean reference run of the same documents.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Driver } from 'neo4j-driver';
import { startFaultProxy, mulberry32, type FaultProxy } from '../support/fault-proxy';
import { graphProblems, inspectDocument } from '../support/graph-inspect';
import { OutputCapture, scanForSecrets, leakFigures } from './support/capture';
import { makeCorpus, type ChaosDocument } from './support/corpus';
import { compareDumps, deletePrefix, dumpGraph, type GraphDump } from './support/graph-dump';
import { adminDriver, startOwnNeo4j, type OwnNeo4j } from './support/neo4j-servers';
import {
  CHUNK_SIZE,
  census,
  chaosClock,
  closeWithin,
  chaosRuntime,
  drainWithin,
  localEnv,
  registerCorpus,
  replayAll,
  submit,
} from './support/pipeline';
import { recordFigures } from './support/results';
import { chaosScale } from './support/scale';
import { chaosAlerter, chaosSecrets, startSlackReceiver, type SlackReceiver } from './support/slack';

const scale = chaosScale();
const run = randomUUID().slice(0, 8);
const PREFIX = `chaos-nf-${run}`;
const SEED = 0x5eed;
const docs = makeCorpus(PREFIX, scale.documents, SEED);

const capture = new OutputCapture();
let own: OwnNeo4j | undefined;
let slack: SlackReceiver | undefined;
let admin: Driver | undefined;
const dirs: string[] = [];

beforeAll(async () => {
  capture.captureProcessStreams();
  own = await startOwnNeo4j('neo4j-faults');
  slack = await startSlackReceiver();
  admin = adminDriver(own);
}, 300_000);

afterAll(async () => {
  await admin?.close();
  await slack?.close();
  await own?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  capture.restore();
  capture.dumpIfAsked('neo4j-faults');
}, 120_000);

function tempDir(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `graphmill-chaos-${name}-`));
  dirs.push(d);
  return d;
}

/** Neo4j settings that make faults bite: short lifetimes (many new connections), short retries. */
const DOWNTIME_MS = 10_000;
/** The last outage is longer: the few documents left run out of deliveries and take the dead-letter path. */
const LAST_DOWNTIME_MS = 25_000;
/**
 * Time budgets (real time), so the suite ends by itself even when graphmill hangs: the chaos ingest
 * (from the batch submission to an idle bus), then the replay, then closing the runtime.
 */
const BUDGET =
  scale.name === 'small' ? { ingestMs: 150_000, replayMs: 60_000 } : { ingestMs: 300_000, replayMs: 90_000 };
const CLOSE_MS = 20_000;
const KILL_LAST = 0.98;
const FAULT_ENV = {
  NEO4J_MAX_POOL_SIZE: '8',
  NEO4J_CONNECTION_TIMEOUT_MS: '2000',
  NEO4J_ACQUISITION_TIMEOUT_MS: '5000',
  NEO4J_MAX_TRANSACTION_RETRY_MS: '3000',
  NEO4J_MAX_CONNECTION_LIFETIME_MS: '1000',
  DLQ_MAX_ATTEMPTS: '3',
};

function buildRuntime(
  name: string,
  uri: string,
  extra: Record<string, string> = {},
  maxDeliveryAttempts = 5,
) {
  const o = own as OwnNeo4j;
  const clock = chaosClock();
  const logger = capture.logger('info', { suite: 'neo4j-faults', run: name });
  const secrets = chaosSecrets({ neo4jPassword: o.password, webhookUrl: (slack as SlackReceiver).url });
  const runtime = chaosRuntime(
    localEnv({
      stateDir: tempDir(name),
      neo4j: { uri, username: o.username, password: o.password },
      extra,
    }),
    logger,
    { secrets, alerter: chaosAlerter(secrets, logger), clock: clock.now, bus: { maxDeliveryAttempts } },
  );
  return { runtime, clock, logger };
}

interface ReaderFigures {
  reads: number;
  visible: number;
  partial: number;
  errors: number;
  samples: string[];
}

/** Readers of random documents under their lock, until stopped; bounded in reads and time. */
function startReader(driver: Driver, corpus: readonly ChaosDocument[], deadline: number, readers = 3) {
  const f: ReaderFigures = { reads: 0, visible: 0, partial: 0, errors: 0, samples: [] };
  let stop = false;
  const one = async (seed: number) => {
    const random = mulberry32(seed);
    while (!stop && Date.now() < deadline && f.reads < 200_000) {
      const doc = corpus[Math.floor(random() * corpus.length)] as ChaosDocument;
      try {
        const g = await inspectDocument(driver, doc.id, { locked: true });
        f.reads++;
        if (g.document !== undefined) {
          f.visible++;
          // Staged chunks of an unfinished run are allowed (unreferenced); the visible document is not.
          const problems = graphProblems({ ...g, allChunkNodes: g.partOf }, doc.text, CHUNK_SIZE);
          if (problems.length > 0) {
            f.partial++;
            if (f.samples.length < 5) f.samples.push(`${doc.id}: ${problems.slice(0, 3).join('; ')}`);
          }
        }
        await new Promise((r) => setTimeout(r, 2));
      } catch {
        f.errors++;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  const done = Promise.all(Array.from({ length: readers }, (_, i) => one(SEED + 1 + i)));
  return {
    figures: f,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

async function referenceRun(): Promise<{ dump: GraphDump; ms: number }> {
  const o = own as OwnNeo4j;
  const t0 = Date.now();
  const { runtime } = buildRuntime('reference', o.uri);
  try {
    await registerCorpus(runtime, docs, Date.now());
    await submit(runtime, `${PREFIX}-reference`, docs);
    expect(await drainWithin(runtime, 300_000)).toBe(true);
    const c = census(
      await runtime.adapters.pipeline.status.list(),
      docs.map((d) => d.id),
    );
    expect(c.completed).toBe(docs.length);
  } finally {
    await runtime.close();
  }
  const dump = await dumpGraph(admin as Driver, PREFIX);
  expect(dump.documents).toHaveLength(docs.length);
  expect(dump.unreferencedChunks).toBe(0);
  await deletePrefix(admin as Driver, PREFIX);
  return { dump, ms: Date.now() - t0 };
}

it(`ingests ${scale.documents} documents through ${scale.restarts} SIGKILLs, connection drops, cuts and latency spikes, and ends equal to a clean run`, async () => {
  const o = own as OwnNeo4j;
  const findings: string[] = [];
  const reference = await referenceRun();

  const proxy: FaultProxy = await startFaultProxy({
    upstreamHost: o.host,
    upstreamPort: o.port,
    seed: SEED,
    dropRate: 0.05,
    spikeEveryMs: 2500,
    spikeMinMs: 100,
    spikeMaxMs: 900,
    cutEveryMs: 3000,
    cutFraction: 0.25,
    commitAckLossRate: 0.03,
  });
  // Three deliveries per event: a document in flight when Neo4j dies runs out of them during the restart
  // and is dead-lettered, which is the path this suite exists to exercise.
  const { runtime, clock, logger } = buildRuntime('chaos', `bolt://127.0.0.1:${proxy.port}`, FAULT_ENV, 3);
  const ids = docs.map((d) => d.id);
  const restarts: { killAtDone: number; restartMs: number }[] = [];
  let reader: ReturnType<typeof startReader> | undefined;
  const t0 = Date.now();
  try {
    await registerCorpus(runtime, docs, clock.now());
    reader = startReader(admin as Driver, docs, Date.now() + BUDGET.ingestMs + BUDGET.replayMs + 60_000);
    const ingestDeadline = Date.now() + BUDGET.ingestMs;

    // The first kills land mid-batch; the last one near its end, where few documents are left and those
    // in flight run out of deliveries during the outage (the dead-letter path).
    const killAt = Array.from({ length: scale.restarts }, (_, i) =>
      scale.restarts === 1 ? KILL_LAST : 0.5 + ((KILL_LAST - 0.5) * i) / (scale.restarts - 1),
    );
    const settled = async () =>
      (await runtime.adapters.pipeline.status.list()).filter(
        (r) => ids.includes(r.id) && r.status !== 'pending' && r.status !== 'processing',
      ).length;
    const chaos = (async () => {
      for (let k = 1; k <= scale.restarts; k++) {
        const target = Math.floor(docs.length * (killAt[k - 1] as number));
        const waitUntil = ingestDeadline;
        while ((await settled()) < target && Date.now() < waitUntil) await sleep(200);
        const at = await settled();
        await o.kill();
        // Down long enough that documents in flight run out of deliveries and are dead-lettered.
        await sleep(k === scale.restarts ? LAST_DOWNTIME_MS : DOWNTIME_MS);
        restarts.push({ killAtDone: at, restartMs: await o.restart() });
      }
    })();

    await submit(runtime, `${PREFIX}-chaos`, docs);
    await chaos;
    const drained = await drainWithin(runtime, Math.max(1000, ingestDeadline - Date.now()));
    if (!drained) {
      const hung = (await runtime.adapters.pipeline.status.list()).filter(
        (r) => ids.includes(r.id) && r.status === 'processing',
      );
      findings.push(
        `the bus was not idle ${BUDGET.ingestMs / 1000} s after the submission; documents still processing: ${hung
          .slice(0, 5)
          .map((r) => `${r.id} (${r.stage ?? 'claimed'})`)
          .join(', ')}`,
      );
    }
    const ingestMs = Date.now() - t0;

    const afterIngest = census(await runtime.adapters.pipeline.status.list(), ids);
    const deadLettersAfterIngest = await runtime.adapters.deadLetters.list();
    if (afterIngest.stuck > 0) {
      findings.push(
        `${afterIngest.stuck} documents stuck after the ingest (pending/processing/failed-retryable): ${afterIngest.stuckIds.slice(0, 10).join(', ')}`,
      );
    }
    if (afterIngest.failedPermanent > 0) {
      // Only transient faults were injected and every document is valid: a permanent failure is a
      // transient error classified as permanent (it waits for manual review instead of being retried).
      findings.push(
        `${afterIngest.failedPermanent} documents failed permanently under transient faults: ${afterIngest.permanentSamples.join(' | ')}`,
      );
    }
    if (afterIngest.withoutReason > 0)
      findings.push(`${afterIngest.withoutReason} dead letters without a reason`);
    const notCompleted = ids.length - afterIngest.completed;
    const docLetters = new Set(
      deadLettersAfterIngest.flatMap((e) =>
        e.operation.kind === 'document' ? [e.operation.documentId] : [],
      ),
    );
    const unlettered = (await runtime.adapters.pipeline.status.list()).filter(
      (r) => ids.includes(r.id) && r.status !== 'completed' && !docLetters.has(r.id),
    );
    if (unlettered.length > 0) {
      findings.push(
        `${unlettered.length} unfinished documents without a dead letter: ${unlettered
          .slice(0, 10)
          .map((r) => `${r.id}:${r.status}`)
          .join(', ')}`,
      );
    }

    // Neo4j is healthy again: no more random faults; replay what was dead-lettered.
    proxy.setFaults(false);
    const tReplay = Date.now();
    const replay = await replayAll(runtime, clock, logger, 6, Date.now() + BUDGET.replayMs);
    const replayMs = Date.now() - tReplay;
    await reader.stop();
    const afterReplay = census(await runtime.adapters.pipeline.status.list(), ids);
    if (afterReplay.completed !== ids.length) {
      findings.push(
        `${ids.length - afterReplay.completed} documents not completed after the replay: ${afterReplay.stuckIds.slice(0, 10).join(', ')}`,
      );
    }
    const batch = await runtime.adapters.batches.get(`${PREFIX}-chaos`);

    const dump = await dumpGraph(admin as Driver, PREFIX);
    const diff = compareDumps(reference.dump, dump);
    const structural: string[] = [];
    for (const d of docs) {
      const problems = graphProblems(await inspectDocument(admin as Driver, d.id), d.text, CHUNK_SIZE);
      if (problems.length > 0) structural.push(`${d.id}: ${problems.slice(0, 2).join('; ')}`);
    }
    const lostDocuments = diff.lostDocuments.length;
    const lostChunks = diff.lostChunks.length;
    const duplicated =
      dump.duplicateChunkIds.length + dump.documentsWithExtraChunks.length + diff.extraChunks.length;
    if (lostDocuments + lostChunks > 0)
      findings.push(`lost: ${lostDocuments} documents, ${lostChunks} chunks`);
    if (duplicated > 0)
      findings.push(
        `duplicated: ${JSON.stringify(dump.duplicateChunkIds.slice(0, 5))} ${JSON.stringify(dump.documentsWithExtraChunks.slice(0, 5))}`,
      );
    if (diff.changedDocuments.length + diff.changedChunks.length + diff.extraDocuments.length > 0) {
      findings.push(
        `graph differs from the reference: ${JSON.stringify({ ...diff, lostChunks: diff.lostChunks.length, extraChunks: diff.extraChunks.length, changedChunks: diff.changedChunks.slice(0, 5) }).slice(0, 800)}`,
      );
    }
    if (dump.unreferencedChunks > 0) findings.push(`${dump.unreferencedChunks} unreferenced chunks left`);
    if (structural.length > 0) findings.push(`structural problems: ${structural.slice(0, 5).join(' | ')}`);
    if (reader.figures.partial > 0)
      findings.push(`partial documents seen: ${reader.figures.samples.join(' | ')}`);

    const busStats = runtime.adapters.bus?.stats();
    if (!(await closeWithin(runtime, CLOSE_MS)))
      findings.push(`the runtime did not close within ${CLOSE_MS / 1000} s`);
    const leaks = scanForSecrets(`${capture.text()}\n${(slack as SlackReceiver).bodies.join('\n')}`, {
      neo4jPassword: o.password,
      slackWebhookUrl: (slack as SlackReceiver).url,
    });
    if (leaks.occurrences > 0) findings.push(`secrets leaked: ${JSON.stringify(leaks.leaks)}`);
    if (!leaks.scannerVerified) findings.push('the leak scanner failed its self-test');

    recordFigures('neo4j-faults', {
      documents: docs.length,
      chunks: reference.dump.chunks.length,
      largeDocuments: docs.filter((d) => d.text.length > 2000).length,
      referenceRunMs: reference.ms,
      serverStartMs: o.startMs,
      ingestMs,
      replayMs,
      faults: {
        sigkills: restarts.length,
        restarts,
        connectionsAccepted: proxy.counters.accepted,
        connectionsDropped: proxy.counters.dropped,
        connectionsCut: proxy.counters.cut,
        latencySpikes: proxy.counters.spikes,
        latencySpikeMs: proxy.counters.spikeMs,
        chunksDelayed: proxy.counters.delayedChunks,
        upstreamRefused: proxy.counters.upstreamErrors,
        commits: proxy.counters.commits,
        commitAcksLost: proxy.counters.commitAcksLost,
        downtimeMs: DOWNTIME_MS,
        lastDowntimeMs: LAST_DOWNTIME_MS,
      },
      afterIngest: {
        completed: afterIngest.completed,
        deadLettered: afterIngest.deadLettered,
        failedPermanent: afterIngest.failedPermanent,
        stuck: afterIngest.stuck,
        withoutReason: afterIngest.withoutReason,
        notCompleted,
        byCode: afterIngest.byCode,
        deadLetterEntries: deadLettersAfterIngest.length,
      },
      replay,
      afterReplay: { completed: afterReplay.completed, stuck: afterReplay.stuck },
      batch: batch ? { status: batch.status, summary: batch.summary } : undefined,
      bus: busStats,
      reader: {
        reads: reader.figures.reads,
        visible: reader.figures.visible,
        partial: reader.figures.partial,
        errors: reader.figures.errors,
      },
      lostDocuments,
      lostChunks,
      duplicated,
      unreferencedChunks: dump.unreferencedChunks,
      graphEqualsReference:
        lostDocuments + lostChunks + duplicated + diff.changedChunks.length + diff.changedDocuments.length ===
        0,
      alertsDelivered: (slack as SlackReceiver).bodies.length,
      leaks: leakFigures(leaks),
      findings,
    });

    expect(proxy.counters.dropped).toBeGreaterThan(0);
    expect(restarts).toHaveLength(scale.restarts);
    expect(reader.figures.reads).toBeGreaterThan(0);
    expect(findings).toEqual([]);
  } finally {
    await reader?.stop();
    await closeWithin(runtime, CLOSE_MS);
    await proxy.close();
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
