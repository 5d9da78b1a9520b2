/** `dlq list|show|replay|resolve` and `reconcile`. */
import { Command } from 'commander';
import { markResolved } from '../../shared/dlq/policy';
import { replayDue, replayOne, type ReplayDeps } from '../../shared/dlq/replay';
import { DEAD_LETTER_STATUSES, type DeadLetterStatus } from '../../shared/dlq/types';
import { badRequest, notFound } from '../../shared/errors';
import { reconcile, replayOperation } from '../../shared/pipeline/orchestration';
import type { Runtime } from '../../shared/runtime';
import type { CliContext, CommonOptions } from '../context';

const replayDeps = (runtime: Runtime): ReplayDeps => {
  const deps = runtime.orchestration('cli');
  return {
    store: runtime.deadLetters,
    alerter: runtime.alerter,
    clock: runtime.pipeline.clock,
    logger: deps.logger,
    functionName: 'cli',
    ...(deps.settings.dlqSchedule ? { schedule: deps.settings.dlqSchedule } : {}),
    run: (op) => replayOperation(deps, op),
  };
};

export function dlqCommand(ctx: CliContext, common: (c: Command) => Command): Command {
  const dlq = new Command('dlq')
    .description('dead letters: list, show, replay, resolve')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout.write(s), writeErr: (s) => ctx.io.stderr.write(s) });
  const withRuntime =
    <A extends unknown[]>(fn: (runtime: Runtime, opts: CommonOptions, ...args: A) => Promise<void>) =>
    async (...args: [...A, CommonOptions, Command]) => {
      const opts = args[args.length - 2] as CommonOptions;
      const runtime = ctx.open(opts);
      try {
        await fn(runtime, opts, ...(args.slice(0, -2) as A));
      } finally {
        await runtime.close();
      }
    };

  dlq.addCommand(
    common(new Command('list'))
      .description('list dead letters (default: those not resolved)')
      .option('--status <status>', `one of ${DEAD_LETTER_STATUSES.join(', ')}`)
      .action(
        withRuntime(async (runtime, opts) => {
          const wanted = (opts as CommonOptions & { status?: string }).status;
          if (wanted !== undefined && !(DEAD_LETTER_STATUSES as readonly string[]).includes(wanted)) {
            throw badRequest(`--status must be one of ${DEAD_LETTER_STATUSES.join(', ')}`);
          }
          const all = await runtime.deadLetters.list(wanted ? { status: wanted as DeadLetterStatus } : {});
          const shown = wanted ? all : all.filter((d) => d.status !== 'resolved');
          if (opts.json) {
            ctx.print(JSON.stringify({ deadLetters: shown }));
            return;
          }
          for (const d of shown) {
            const what =
              d.operation.kind === 'document'
                ? `${d.operation.action} ${d.operation.documentId}`
                : `event on ${d.operation.topic}`;
            const next =
              d.nextAttemptAt !== undefined ? ` next ${new Date(d.nextAttemptAt).toISOString()}` : '';
            ctx.print(
              `${d.id}  ${d.status.padEnd(13)} ${d.errorClass.padEnd(10)} attempts=${d.attempts}${next}  ${what}  ${d.history.at(-1)?.code ?? ''}`,
            );
          }
          ctx.print(`${shown.length} dead letters`);
        }),
      ),
  );
  dlq.addCommand(
    common(new Command('show'))
      .argument('<id>')
      .description('show one dead letter with its history')
      .action(
        withRuntime(async (runtime, _opts, id: string) => {
          const d = await runtime.deadLetters.get(id);
          if (!d) throw notFound(`No dead letter ${id}`);
          ctx.print(JSON.stringify(d, null, 2));
        }),
      ),
  );
  dlq.addCommand(
    common(new Command('replay'))
      .argument('[id]', 'replay this entry now (default: every due entry)')
      .description('re-drive dead letters through the pipeline')
      .action(
        withRuntime(async (runtime, opts, id: string | undefined) => {
          const deps = replayDeps(runtime);
          if (id !== undefined) {
            const outcome = await replayOne(deps, id);
            await runtime.bus?.drain();
            if (outcome !== 'succeeded') ctx.setExitCode(1);
            ctx.print(opts.json ? JSON.stringify({ id, outcome }) : `${id}: ${outcome}`);
            return;
          }
          const summary = await replayDue(deps);
          await runtime.bus?.drain();
          if (summary.failed > 0) ctx.setExitCode(1);
          ctx.print(
            opts.json
              ? JSON.stringify(summary)
              : `${summary.claimed} due, ${summary.succeeded} replayed, ${summary.failed} failed (${summary.manualReview} need manual review)`,
          );
        }),
      ),
  );
  dlq.addCommand(
    common(new Command('resolve'))
      .argument('<id>')
      .option('--note <text>', 'what was done', 'resolved by hand')
      .description('mark a dead letter as resolved (it will not be replayed)')
      .action(
        withRuntime(async (runtime, opts, id: string) => {
          const d = await runtime.deadLetters.get(id);
          if (!d) throw notFound(`No dead letter ${id}`);
          const note = (opts as CommonOptions & { note: string }).note;
          await runtime.deadLetters.put(markResolved(d, runtime.pipeline.clock(), note));
          ctx.print(opts.json ? JSON.stringify({ id, status: 'resolved' }) : `${id}: resolved`);
        }),
      ),
  );
  return dlq;
}

const DURATION = /^(\d+)(m|h|d)$/;

export function reconcileCommand(ctx: CliContext, common: (c: Command) => Command): Command {
  return common(new Command('reconcile'))
    .description('repair completions present in one ledger and missing from the other')
    .option('--since <duration>', 'how far back to look (30m, 24h, 7d)', '24h')
    .action(async (opts: CommonOptions & { since: string }) => {
      const m = DURATION.exec(opts.since);
      if (!m) throw badRequest('--since must look like 30m, 24h or 7d');
      const ms = Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
      const runtime = ctx.open(opts);
      try {
        const now = runtime.pipeline.clock();
        const report = await reconcile(
          {
            firestore: runtime.ledgers.firestore,
            bigquery: runtime.ledgers.bigquery,
            firestorePolicy: runtime.policies.firestore,
            bigqueryPolicy: runtime.policies.bigquery,
            logger: runtime.logger,
          },
          { since: now - ms, until: now + 1 },
        );
        if (report.failed.length > 0) ctx.setExitCode(1);
        ctx.print(
          opts.json
            ? JSON.stringify(report)
            : `checked ${report.firestoreRecords} + ${report.bigqueryRecords} records; repaired ${report.repairedInFirestore.length} in the orchestration ledger and ${report.repairedInBigquery.length} in the analytics ledger; ${report.failed.length} failed`,
        );
      } finally {
        await runtime.close();
      }
    });
}
