/**
 * The `graphmill` CLI on the embedded local state (SQLite under --state-dir) and a real Neo4j. It runs
 * the same pipeline, event handlers and dead-letter replay as the Cloud Functions.
 */
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { withLocalNeo4jEnv } from '../shared/config/env-file';
import { toGraphmillError } from '../shared/errors';
import { ingestCommand, registerCommand, statusCommand } from './commands/documents';
import { dlqCommand, reconcileCommand } from './commands/operations';
import { makeContext, nonNegativeInt, type CliIo } from './context';

export type { CliIo } from './context';
export type { DocumentSummary } from './commands/documents';

export async function main(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  let exitCode = 0;
  const ctx = makeContext(io, (code) => {
    exitCode = Math.max(exitCode, code);
  });

  const program = new Command('graphmill')
    .description('Ingest documents into Neo4j as a lexical graph (local mode: SQLite state + real Neo4j).')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError();

  const common = (cmd: Command): Command =>
    cmd
      .exitOverride()
      .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
      .option('--state-dir <dir>', 'state directory (SQLite state, neo4j.env)', '.graphmill')
      .option('--chunk-size <n>', 'chunk size in characters (default 1000)', nonNegativeInt('--chunk-size'))
      .option(
        '--chunk-overlap <n>',
        'chunk overlap in characters (default 200)',
        nonNegativeInt('--chunk-overlap'),
      )
      .option('--json', 'print a JSON summary on stdout')
      .addOption(
        new Option('--log-level <level>', 'log level').choices([
          'debug',
          'info',
          'notice',
          'warning',
          'error',
        ]),
      );

  program.addCommand(registerCommand(ctx, common));
  program.addCommand(ingestCommand(ctx, common));
  program.addCommand(statusCommand(ctx, common));
  program.addCommand(dlqCommand(ctx, common));
  program.addCommand(reconcileCommand(ctx, common));

  program
    .command('serve')
    .description('run the orchestrate HTTP function locally on the same state directory')
    .option('--state-dir <dir>', 'state directory', '.graphmill')
    .option('--port <n>', 'port on 127.0.0.1 (0 picks a free one)', nonNegativeInt('--port'), 8080)
    .option('--file-root <dir>', 'directory file:// sources must stay inside', '.')
    .action(async (opts: { stateDir: string; port: number; fileRoot: string }) => {
      const stateDir = resolve(io.cwd, opts.stateDir);
      Object.assign(process.env, withLocalNeo4jEnv(io.env, stateDir), {
        GRAPHMILL_MODE: 'local',
        GRAPHMILL_STATE_DIR: stateDir,
        GRAPHMILL_FILE_ROOT: resolve(io.cwd, opts.fileRoot),
      });
      // Loaded here, not at the top: registering the function is only needed by `serve`.
      const entry =
        require('../functions/orchestrate/index') as typeof import('../functions/orchestrate/index');
      const testing =
        require('@google-cloud/functions-framework/testing') as typeof import('@google-cloud/functions-framework/testing');
      const server = testing.getTestServer('orchestrate');
      await new Promise<void>((ok) => server.listen(opts.port, '127.0.0.1', ok));
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : opts.port;
      io.stderr.write(`graphmill: orchestrate listening on http://127.0.0.1:${port}/\n`);
      await (io.untilStopped ?? untilSignal)(port);
      await new Promise<void>((ok) => server.close(() => ok()));
      await entry.closeOrchestrate();
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : 2;
    }
    const e = toGraphmillError(err);
    io.stderr.write(`graphmill: ${e.message}\n`);
    return e.code === 'config_invalid' || e.code === 'bad_request' ? 2 : 1;
  }
  return exitCode;
}

function untilSignal(): Promise<void> {
  return new Promise((ok) => {
    process.once('SIGINT', () => ok());
    process.once('SIGTERM', () => ok());
  });
}

function defaultIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
