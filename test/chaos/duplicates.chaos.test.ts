/**
 * Duplicates and ordering: the same batch twice against the shared test Neo4j, once on a clean bus and
 * once with every event delivered twice and the pending deliveries picked in random order
 * (`bus: { duplicate: true, reorder: true }`). The final state must be identical: the graph (documents,
 * chunk ids, texts), every document's status, the completion records in both ledgers, and the batch
 * (units, outcomes, summary), with the batch completing, and alerting, exactly once.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Driver } from 'neo4j-driver';
import type { Composition as Runtime } from '../../shared/runtime';
import { OutputCapture, scanForSecrets, leakFigures } from './support/capture';
import { makeCorpus } from './support/corpus';
import { compareDumps, deletePrefix, dumpGraph, type GraphDump } from './support/graph-dump';
import { adminDriver, sharedNeo4j } from './support/neo4j-servers';
import {
  census,
  chaosClock,
  chaosRuntime,
  drainWithin,
  localEnv,
  registerCorpus,
  submit,
} from './support/pipeline';
import { recordFigures } from './support/results';
import { chaosScale } from './support/scale';
import { chaosAlerter, chaosSecrets, startSlackReceiver, type SlackReceiver } from './support/slack';

const scale = chaosScale();
const run = randomUUID().slice(0, 8);
const PREFIX = `chaos-dup-${run}`;
const BATCH = `${PREFIX}-batch`;
const docs = makeCorpus(PREFIX, scale.documents, 0xd0b);
const capture = new OutputCapture();
let slack: SlackReceiver;
let admin: Driver;
const dirs: string[] = [];

beforeAll(async () => {
  capture.captureProcessStreams();
  slack = await startSlackReceiver();
  admin = adminDriver(sharedNeo4j());
});

afterAll(async () => {
  await deletePrefix(admin, PREFIX);
  await admin.close();
  await slack.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  capture.restore();
  capture.dumpIfAsked('duplicates');
});

interface FinalState {
  graph: GraphDump;
  statuses: string[];
  ledgers: { firestore: string[]; bigquery: string[] };
  batch: string;
  bus: ReturnType<NonNullable<Runtime['adapters']['bus']>['stats']> | undefined;
  ms: number;
  batchCompleteLogs: number;
}

async function runBatch(name: string, bus: { duplicate?: boolean; reorder?: boolean }): Promise<FinalState> {
  const conn = sharedNeo4j();
  const dir = mkdtempSync(join(tmpdir(), `graphmill-chaos-dup-${name}-`));
  dirs.push(dir);
  const logger = capture.logger('info', { suite: 'duplicates', run: name });
  const secrets = chaosSecrets({ neo4jPassword: conn.password, webhookUrl: slack.url });
  const clock = chaosClock();
  const runtime = chaosRuntime(
    localEnv({ stateDir: dir, neo4j: conn, extra: { NEO4J_MAX_POOL_SIZE: '8' } }),
    logger,
    {
      secrets,
      alerter: chaosAlerter(secrets, logger),
      clock: clock.now,
      bus: { ...bus, maxDeliveryAttempts: 10 },
    },
  );
  const t0 = Date.now();
  try {
    await registerCorpus(runtime, docs, clock.now());
    await submit(runtime, BATCH, docs);
    expect(await drainWithin(runtime, 300_000)).toBe(true);
    const ms = Date.now() - t0;
    const records = await runtime.adapters.pipeline.status.list();
    const c = census(
      records,
      docs.map((d) => d.id),
    );
    expect(c.completed).toBe(docs.length);
    const statuses = records
      .filter((r) => r.id.startsWith(PREFIX))
      .map((r) =>
        JSON.stringify([
          r.id,
          r.status,
          r.chunkCount,
          r.contentHash,
          r.chunkSize,
          r.chunkOverlap,
          r.error ?? null,
        ]),
      )
      .sort();
    const window = { since: 0, until: clock.now() + 1 };
    const ledger = async (which: 'firestore' | 'bigquery') =>
      (await runtime.adapters.ledgers[which].list(window))
        .map((r) =>
          JSON.stringify([
            r.completionId,
            r.documentId,
            r.batchId,
            r.phase,
            r.status,
            r.chunkCount ?? null,
            r.contentHash ?? null,
          ]),
        )
        .sort();
    const batch = await runtime.adapters.batches.get(BATCH);
    const summary = batch?.summary ? { ...batch.summary, durationMs: 'ignored' } : undefined;
    const phases = Object.fromEntries(
      Object.entries(batch?.phaseStates ?? {}).map(([p, s]) => [
        p,
        {
          expected: s.expected,
          succeeded: s.succeeded,
          failed: s.failed,
          units: Object.entries(s.units).sort(),
        },
      ]),
    );
    const state: FinalState = {
      graph: await dumpGraph(admin, PREFIX),
      statuses,
      ledgers: { firestore: await ledger('firestore'), bigquery: await ledger('bigquery') },
      batch: JSON.stringify({
        status: batch?.status,
        units: [...(batch?.units ?? [])].sort(),
        summary,
        phases,
      }),
      bus: runtime.adapters.bus?.stats(),
      ms,
      batchCompleteLogs: 0,
    };
    await runtime.close();
    state.batchCompleteLogs = capture
      .text()
      .split('\n')
      .filter((l) => l.includes('"batch complete"') && l.includes(`"run":"${name}"`)).length;
    return state;
  } finally {
    await runtime.close();
  }
}

it(`every event delivered twice and out of order: ${scale.documents} documents end exactly as on a clean bus`, async () => {
  const findings: string[] = [];
  const clean = await runBatch('clean', {});
  await deletePrefix(admin, PREFIX);
  const chaotic = await runBatch('twice-reordered', { duplicate: true, reorder: true });

  const graph = compareDumps(clean.graph, chaotic.graph);
  const graphDiffs =
    graph.lostDocuments.length +
    graph.extraDocuments.length +
    graph.changedDocuments.length +
    graph.lostChunks.length +
    graph.extraChunks.length +
    graph.changedChunks.length;
  const duplicated =
    chaotic.graph.duplicateChunkIds.length +
    chaotic.graph.documentsWithExtraChunks.length +
    graph.extraChunks.length;
  const statusDiffs = symmetricDiff(clean.statuses, chaotic.statuses);
  const ledgerDiffs = {
    firestore: symmetricDiff(clean.ledgers.firestore, chaotic.ledgers.firestore),
    bigquery: symmetricDiff(clean.ledgers.bigquery, chaotic.ledgers.bigquery),
  };
  if (graphDiffs > 0) findings.push(`graph differs: ${JSON.stringify(graph).slice(0, 600)}`);
  if (duplicated > 0) findings.push(`duplicated chunks: ${duplicated}`);
  if (chaotic.graph.unreferencedChunks > 0)
    findings.push(`${chaotic.graph.unreferencedChunks} unreferenced chunks`);
  if (statusDiffs.length > 0) findings.push(`statuses differ: ${statusDiffs.slice(0, 4).join(' | ')}`);
  if (ledgerDiffs.firestore.length + ledgerDiffs.bigquery.length > 0) {
    findings.push(`ledgers differ: ${JSON.stringify(ledgerDiffs).slice(0, 600)}`);
  }
  if (clean.batch !== chaotic.batch)
    findings.push(`batch differs: ${clean.batch.slice(0, 300)} vs ${chaotic.batch.slice(0, 300)}`);
  if (chaotic.batchCompleteLogs !== 1) findings.push(`batch completed ${chaotic.batchCompleteLogs} times`);

  const conn = sharedNeo4j();
  const leaks = scanForSecrets(`${capture.text()}\n${slack.bodies.join('\n')}`, {
    neo4jPassword: conn.password,
    slackWebhookUrl: slack.url,
  });
  if (leaks.occurrences > 0) findings.push(`secrets leaked: ${JSON.stringify(leaks.leaks)}`);
  if (!leaks.scannerVerified) findings.push('the leak scanner failed its self-test');

  recordFigures('duplicates', {
    documents: docs.length,
    chunks: clean.graph.chunks.length,
    clean: { ms: clean.ms, bus: clean.bus },
    twiceReordered: { ms: chaotic.ms, bus: chaotic.bus },
    graphDifferences: graphDiffs,
    duplicated,
    lost: graph.lostDocuments.length + graph.lostChunks.length,
    statusDifferences: statusDiffs.length,
    ledgerDifferences: ledgerDiffs.firestore.length + ledgerDiffs.bigquery.length,
    completions: { firestore: chaotic.ledgers.firestore.length, bigquery: chaotic.ledgers.bigquery.length },
    batchIdentical: clean.batch === chaotic.batch,
    batchCompletedTimes: chaotic.batchCompleteLogs,
    alertsDelivered: slack.bodies.length,
    leaks: leakFigures(leaks),
    findings,
  });

  expect(chaotic.bus?.deliveries ?? 0).toBeGreaterThanOrEqual(2 * (chaotic.bus?.published ?? 0));
  expect(findings).toEqual([]);
});

function symmetricDiff(a: readonly string[], b: readonly string[]): string[] {
  const sa = new Set(a);
  const sb = new Set(b);
  return [
    ...a.filter((x) => !sb.has(x)).map((x) => `-${x}`),
    ...b.filter((x) => !sa.has(x)).map((x) => `+${x}`),
  ];
}
