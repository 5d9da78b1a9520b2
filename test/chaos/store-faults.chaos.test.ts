/**
 * Store faults: a batch runs while 20% of the calls to the status store, to both completion ledgers
 * and to the event publisher fail (seeded; a quarter of the failing writes fail after the write
 * happened, as a lost acknowledgement). On top, each ledger is down outright for one short window
 * (longer than its retries), which is what leaves gaps for reconciliation: the random 20% alone are
 * absorbed by the ledgers' bounded retries. The graph is a MemoryGraphWriter: this suite is about the
 * state around the graph, and Neo4j has its own fault suite. Waits (bus redelivery backoff, retry
 * backoff) run at a tenth of their nominal length; the retry budgets are computed on the clock, so
 * every policy makes the same number of attempts as at full length.
 *
 * Checked: the batch completes (by redelivery, then by the dead-letter replay once the faults stop);
 * the tracker is honest (it never reports a store write that is not there); reconciliation repairs
 * every gap between the two ledgers.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Batch } from '../../shared/batches/types';
import { reconcile } from '../../shared/usecases/reconcile';
import { InMemoryCompletionLedger } from '../../shared/adapters/memory/completion-ledger';
import type { CompletionRecord } from '../../shared/tracking/types';
import type { CompletionLedger } from '../../shared/ports/completion-ledger';
import type { TrackingResult } from '../../shared/tracking/tracker';
import {
  COMPLETION_LEDGER_SPEC,
  FaultInjector,
  PUBLISHER_SPEC,
  STATUS_STORE_SPEC,
  injectInPlace,
  injectIntoClass,
  wrapPort,
} from '../support/faults';
import { openStateDatabase } from '../../shared/adapters/sqlite/database';
import { SqliteStatusStore } from '../../shared/adapters/sqlite/status-store';
import type { StatusStore } from '../../shared/ports/status-store';
import { MemoryGraphWriter } from '../../shared/adapters/memory/graph-writer';
import { OutputCapture, scanForSecrets, leakFigures } from './support/capture';
import { makeCorpus } from './support/corpus';
import {
  census,
  chaosClock,
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
const PREFIX = `chaos-sf-${run}`;
const FAULT_RATE = 0.2;
const docs = makeCorpus(PREFIX, scale.documents, 0x5f0);
const capture = new OutputCapture();
let slack: SlackReceiver | undefined;
let dir: string | undefined;

beforeAll(async () => {
  capture.captureProcessStreams();
  slack = await startSlackReceiver();
  dir = mkdtempSync(join(tmpdir(), 'graphmill-chaos-store-'));
});

afterAll(async () => {
  await slack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  capture.restore();
  capture.dumpIfAsked('store-faults');
});

it(`a ${scale.documents}-document batch with ${FAULT_RATE * 100}% of status, ledger and publisher calls failing completes, tracks honestly and reconciles`, async () => {
  const findings: string[] = [];
  const injector = new FaultInjector({ seed: 0x20, rate: FAULT_RATE });
  const stores: { firestore: CompletionLedger; bigquery: CompletionLedger } = {
    firestore: new InMemoryCompletionLedger(),
    bigquery: new InMemoryCompletionLedger(),
  };
  const graph = new MemoryGraphWriter();
  const clock = chaosClock();
  const logger = capture.logger('info', { suite: 'store-faults' });
  const fakePassword = `chaos-${randomUUID()}`;
  const secrets = chaosSecrets({ neo4jPassword: fakePassword, webhookUrl: (slack as SlackReceiver).url });
  const runtime = chaosRuntime(
    localEnv({
      stateDir: dir as string,
      // Never dialled: the graph is in memory.
      neo4j: { uri: 'bolt://127.0.0.1:9', username: 'neo4j', password: fakePassword },
    }),
    logger,
    {
      graph,
      secrets,
      alerter: chaosAlerter(secrets, logger),
      clock: clock.now,
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.ceil(ms / 10))),
      ledgers: {
        firestore: wrapPort(stores.firestore, COMPLETION_LEDGER_SPEC('firestoreLedger'), injector),
        bigquery: wrapPort(stores.bigquery, COMPLETION_LEDGER_SPEC('bigqueryLedger'), injector),
      },
    },
  );
  // The status store fails in its adapter (under graphmill's own retries around it); the local bus, which
  // the composition root builds under its publish retries, fails on the instance.
  const undo = [
    injectIntoClass(SqliteStatusStore.prototype as StatusStore, STATUS_STORE_SPEC, injector),
    injectInPlace(runtime.adapters.bus ?? runtime.adapters.publisher, PUBLISHER_SPEC, injector),
  ];
  // What the tracker told its callers, per completion.
  const told: { record: CompletionRecord; result: TrackingResult }[] = [];
  const record = runtime.adapters.tracker.record.bind(runtime.adapters.tracker);
  (runtime.adapters.tracker as { record: typeof record }).record = async (r) => {
    const result = await record(r);
    told.push({ record: r, result });
    return result;
  };

  // The test reads the state through a connection of its own: graphmill's status port sits behind
  // Firestore's breaker, which this run opens on purpose.
  const inspect = new SqliteStatusStore(openStateDatabase(dir as string));
  const ids = docs.map((d) => d.id);
  const batchId = `${PREFIX}-batch`;
  const t0 = Date.now();
  try {
    await registerCorpus(runtime, docs, clock.now());
    injector.enabled = true;

    // The client submits under the faults and retries a failed submission (same batch id: idempotent).
    let submitAttempts = 0;
    let submitted = false;
    while (!submitted && submitAttempts < 10) {
      submitAttempts++;
      try {
        await submit(runtime, batchId, docs);
        submitted = true;
      } catch {
        await drainWithin(runtime, 60_000);
      }
    }
    if (!submitted) {
      findings.push(
        `submit_batch of ${docs.length} documents failed ${submitAttempts} times under ${FAULT_RATE * 100}% faults ` +
          '(every attempt re-reads every unit and re-publishes every message; one failure fails the attempt)',
      );
      // Submitted without faults instead, so the rest of the run can be measured. The client waits out a
      // breaker the failed attempts may have opened (graphmill's clock moves past its half-open delay).
      injector.enabled = false;
      for (let attempt = 0; ; attempt++) {
        try {
          await submit(runtime, batchId, docs);
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
          clock.advance(61_000);
        }
      }
      injector.enabled = true;
    }
    // Ledger outages while the batch runs: the analytics ledger at 20% of the documents written, the
    // orchestration ledger at 50%.
    const outages: { port: string; atWritten: number; ms: number }[] = [];
    let ingestDone = false;
    const outageController = (async () => {
      for (const [port, at] of [
        ['bigqueryLedger', 0.2],
        ['firestoreLedger', 0.5],
      ] as const) {
        const until = Date.now() + 120_000;
        while (graph.documents.size < docs.length * at && Date.now() < until && !ingestDone) await sleep(10);
        if (ingestDone) break;
        injector.down.add(port);
        outages.push({ port, atWritten: graph.documents.size, ms: OUTAGE_MS });
        await sleep(OUTAGE_MS);
        injector.down.delete(port);
      }
    })();
    const drained = await drainWithin(runtime, 300_000);
    ingestDone = true;
    await outageController;
    if (!drained) findings.push('the bus did not drain within 5 minutes');
    const ingestMs = Date.now() - t0;
    injector.enabled = false;
    const afterIngest = census(await inspect.list(), ids);
    const batchAfterIngest = await runtime.adapters.batches.get(batchId);
    const deadLettersAfterIngest = await runtime.adapters.deadLetters.list();
    const letteredDocs = new Set(
      deadLettersAfterIngest.flatMap((e) =>
        e.operation.kind === 'document' ? [e.operation.documentId] : [],
      ),
    );
    const recordedUnits = Object.keys(batchAfterIngest?.phaseStates['ingest']?.units ?? {});
    // A unit with no outcome, no completed document and no dead letter is work nothing will ever redo.
    const records = new Map((await inspect.list()).map((r) => [r.id, r]));
    const orphans = ids.filter(
      (id) => !recordedUnits.includes(id) && records.get(id)?.status !== 'completed' && !letteredDocs.has(id),
    );
    if (orphans.length > 0) {
      findings.push(
        `${orphans.length} units with no outcome, no completion and no dead letter after the ingest: ${orphans
          .slice(0, 5)
          .map((id) => `${id}:${records.get(id)?.status ?? 'missing'}`)
          .join(', ')}`,
      );
    }
    const deadLetterCallbackFailures = countLog(capture.text(), 'dead-letter callback failed');

    // The faults stop; the scheduled replay and the reconciliation catch up.
    const replay = await replayAll(runtime, clock, logger, 8);
    const afterReplay = census(await inspect.list(), ids);
    const batch = await runtime.adapters.batches.get(batchId);
    if (afterReplay.completed !== ids.length) {
      findings.push(
        `${ids.length - afterReplay.completed} documents not completed after the replay: ${afterReplay.stuckIds.slice(0, 5).join(', ')}`,
      );
    }
    if (batch?.status !== 'completed') {
      findings.push(`the batch is ${batch?.status ?? 'missing'} after the replay: ${phaseCounts(batch)}`);
    }

    // Honesty: a store the tracker said it wrote holds the record.
    const window = { since: 0, until: clock.now() + 1 };
    const held = {
      firestore: new Set((await stores.firestore.list(window)).map((r) => r.completionId)),
      bigquery: new Set((await stores.bigquery.list(window)).map((r) => r.completionId)),
    };
    const honesty = { firestore: honestyOf('firestore'), bigquery: honestyOf('bigquery') };
    function honestyOf(store: 'firestore' | 'bigquery') {
      const byId = new Map<string, boolean>();
      for (const t of told)
        byId.set(t.record.completionId, (byId.get(t.record.completionId) ?? false) || t.result[store]);
      let claimedWritten = 0;
      let claimedButMissing = 0;
      let reportedFailed = 0;
      let reportedFailedButPresent = 0;
      for (const [id, ok] of byId) {
        if (ok) {
          claimedWritten++;
          if (!held[store].has(id)) claimedButMissing++;
        } else {
          reportedFailed++;
          if (held[store].has(id)) reportedFailedButPresent++;
        }
      }
      return {
        calls: told.length,
        completions: byId.size,
        claimedWritten,
        claimedButMissing,
        reportedFailed,
        reportedFailedButPresent,
      };
    }
    for (const store of ['firestore', 'bigquery'] as const) {
      if (honesty[store].claimedButMissing > 0) {
        findings.push(
          `tracker claimed ${honesty[store].claimedButMissing} ${store} writes the store does not hold`,
        );
      }
    }
    const bothFailed = told.filter((t) => !t.result.firestore && !t.result.bigquery).length;
    const gapsBefore = {
      onlyInFirestore: [...held.firestore].filter((id) => !held.bigquery.has(id)).length,
      onlyInBigquery: [...held.bigquery].filter((id) => !held.firestore.has(id)).length,
    };

    const report = await reconcile(
      {
        firestore: runtime.adapters.ledgers.firestore,
        bigquery: runtime.adapters.ledgers.bigquery,
        firestorePolicy: runtime.adapters.policies.firestore,
        bigqueryPolicy: runtime.adapters.policies.bigquery,
        logger,
      },
      window,
    );
    const after = {
      firestore: new Set((await stores.firestore.list(window)).map((r) => r.completionId)),
      bigquery: new Set((await stores.bigquery.list(window)).map((r) => r.completionId)),
    };
    const gapsAfter =
      [...after.firestore].filter((id) => !after.bigquery.has(id)).length +
      [...after.bigquery].filter((id) => !after.firestore.has(id)).length;
    if (gapsAfter > 0)
      findings.push(`${gapsAfter} completions still in one ledger only after reconciliation`);
    if (
      report.repairedInBigquery.length !== gapsBefore.onlyInFirestore ||
      report.repairedInFirestore.length !== gapsBefore.onlyInBigquery
    ) {
      findings.push(
        `reconciliation repaired ${report.repairedInFirestore.length}+${report.repairedInBigquery.length}, gaps were ${JSON.stringify(gapsBefore)}`,
      );
    }
    // Every unit of the batch has its succeeded completion in both ledgers in the end, unless both
    // ledgers refused it: then the design's answer is a CRITICAL "completion lost" entry (with the whole
    // record, for a manual replay) and an alert, never silence.
    const succeededUnits = new Set(
      (await stores.firestore.list({ ...window, batchId }))
        .filter((r) => r.status === 'succeeded')
        .map((r) => r.documentId),
    );
    const untracked = ids.filter((id) => !succeededUnits.has(id));
    const criticalLost = new Set(
      capture
        .text()
        .split('\n')
        .filter((l) => l.includes('completion lost: neither Firestore nor BigQuery recorded it'))
        .flatMap((l) => {
          try {
            const documentId = (JSON.parse(l) as { documentId?: unknown }).documentId;
            return typeof documentId === 'string' ? [documentId] : [];
          } catch {
            return [];
          }
        }),
    );
    const silentlyUntracked = untracked.filter((id) => !criticalLost.has(id));
    if (silentlyUntracked.length > 0) {
      findings.push(
        `${silentlyUntracked.length} units without a succeeded completion in either ledger and no CRITICAL report: ${silentlyUntracked.slice(0, 5).join(', ')}`,
      );
    }

    const busStats = runtime.adapters.bus?.stats();
    for (const u of undo) u();
    await runtime.close();
    const leaks = scanForSecrets(`${capture.text()}\n${(slack as SlackReceiver).bodies.join('\n')}`, {
      neo4jPassword: fakePassword,
      slackWebhookUrl: (slack as SlackReceiver).url,
    });
    if (leaks.occurrences > 0) findings.push(`secrets leaked: ${JSON.stringify(leaks.leaks)}`);
    if (!leaks.scannerVerified) findings.push('the leak scanner failed its self-test');

    recordFigures('store-faults', {
      documents: docs.length,
      graph: 'MemoryGraphWriter',
      faultRate: FAULT_RATE,
      faults: injector.totals(),
      ledgerOutages: outages,
      ingestMs,
      submitAttempts,
      submittedUnderFaults: submitted,
      afterIngest: {
        completed: afterIngest.completed,
        deadLettered: afterIngest.deadLettered,
        failedPermanent: afterIngest.failedPermanent,
        stuck: afterIngest.stuck,
        byCode: afterIngest.byCode,
        deadLetterEntries: deadLettersAfterIngest.length,
        batch: batchAfterIngest?.status,
        unitsWithOutcome: recordedUnits.length,
        orphans: orphans.length,
        deadLetterCallbackFailures,
      },
      replay,
      afterReplay: {
        completed: afterReplay.completed,
        stuck: afterReplay.stuck,
        batch: batch?.status,
        summary: batch?.summary,
      },
      graphWrites: graph.writes,
      tracker: { honesty, bothStoresFailed: bothFailed },
      completionsInNeitherLedger: {
        units: untracked.length,
        reportedCritical: untracked.length - silentlyUntracked.length,
        silent: silentlyUntracked.length,
      },
      reconciliation: {
        gapsBefore,
        repairedInFirestore: report.repairedInFirestore.length,
        repairedInBigquery: report.repairedInBigquery.length,
        failed: report.failed.length,
        gapsAfter,
      },
      bus: busStats,
      alertsDelivered: (slack as SlackReceiver).bodies.length,
      leaks: leakFigures(leaks),
      findings,
    });

    expect(injector.totals()['status']?.failed).toBeGreaterThan(0);
    expect(injector.totals()['publisher']?.failed).toBeGreaterThan(0);
    expect(findings).toEqual([]);
  } finally {
    for (const u of undo) u();
    await runtime.close();
    await inspect.close();
  }
});

const OUTAGE_MS = 1500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function countLog(text: string, message: string): number {
  return text.split(message).length - 1;
}

function phaseCounts(batch: Batch | undefined): string {
  const s = batch?.phaseStates['ingest'];
  return s ? `${s.succeeded} succeeded + ${s.failed} failed of ${s.expected}` : 'no phase state';
}
