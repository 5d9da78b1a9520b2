/** `dlq list|show|replay|resolve` and `reconcile`. */
import { Command } from 'commander';
import { DEAD_LETTER_STATUSES, type DeadLetterStatus } from '../../shared/dlq/types';
import { badRequest, notFound } from '../../shared/errors';
import type { Composition } from '../../shared/runtime';
import type { CliContext, CommonOptions } from '../context';

export function dlqCommand(ctx: CliContext, common: (c: Command) => Command): Command {
  const dlq = new Command('dlq')
    .description('dead letters: list, show, replay, resolve')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout.write(s), writeErr: (s) => ctx.io.stderr.write(s) });
  const withRuntime =
    <A extends unknown[]>(fn: (app: Composition, opts: CommonOptions, ...args: A) => Promise<void>) =>
    async (...args: [...A, CommonOptions, Command]) => {
      const opts = args[args.length - 2] as CommonOptions;
      const app = ctx.open(opts);
      try {
        await fn(app, opts, ...(args.slice(0, -2) as A));
      } finally {
        await app.close();
      }
    };

  dlq.addCommand(
    common(new Command('list'))
      .description('list dead letters (default: those not resolved)')
      .option('--status <status>', `one of ${DEAD_LETTER_STATUSES.join(', ')}`)
      .action(
        withRuntime(async (app, opts) => {
          const wanted = (opts as CommonOptions & { status?: string }).status;
          if (wanted !== undefined && !(DEAD_LETTER_STATUSES as readonly string[]).includes(wanted)) {
            throw badRequest(`--status must be one of ${DEAD_LETTER_STATUSES.join(', ')}`);
          }
          const all = await app.replay.list(wanted ? { status: wanted as DeadLetterStatus } : {});
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
        withRuntime(async (app, _opts, id: string) => {
          const d = await app.replay.get(id);
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
        withRuntime(async (app, opts, id: string | undefined) => {
          if (id !== undefined) {
            const outcome = await app.replay.replayOne(id);
            await app.drain();
            if (outcome !== 'succeeded') ctx.setExitCode(1);
            ctx.print(opts.json ? JSON.stringify({ id, outcome }) : `${id}: ${outcome}`);
            return;
          }
          const summary = await app.replay.replayDue();
          await app.drain();
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
        withRuntime(async (app, opts, id: string) => {
          const note = (opts as CommonOptions & { note: string }).note;
          await app.replay.resolve(id, note);
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
      const app = ctx.open(opts);
      try {
        const report = await app.reconcile.recent(ms);
        if (report.failed.length > 0) ctx.setExitCode(1);
        ctx.print(
          opts.json
            ? JSON.stringify(report)
            : `checked ${report.firestoreRecords} + ${report.bigqueryRecords} records; repaired ${report.repairedInFirestore.length} in the orchestration ledger and ${report.repairedInBigquery.length} in the analytics ledger; ${report.failed.length} failed`,
        );
      } finally {
        await app.close();
      }
    });
}
