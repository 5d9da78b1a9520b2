/**
 * The `graphmill` CLI: register, ingest, status and serve, on the embedded local state (SQLite under
 * --state-dir) and a real Neo4j. It runs the same pipeline as the Cloud Functions.
 */
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { parseConfig, type Env } from '../shared/config';
import { withLocalNeo4jEnv } from '../shared/config/env-file';
import { DOCUMENT_ID_PATTERN } from '../functions/orchestrate/handler';
import { toGraphmillError } from '../shared/errors';
import { makeLogger, type Logger } from '../shared/logging';
import { runDocument, type DocumentOutcome } from '../shared/pipeline';
import { buildRuntime, type Runtime } from '../shared/runtime/local';
import { commonRoot, expandPaths, fileDocument } from './files';

export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: Env;
  readonly cwd: string;
  /** For `serve`: resolves when the server should stop (default: SIGINT/SIGTERM). */
  readonly untilStopped?: (port: number) => Promise<void>;
}

interface CommonOptions {
  stateDir: string;
  chunkSize?: number;
  chunkOverlap?: number;
  json?: boolean;
  logLevel?: string;
}

export interface DocumentSummary {
  documentId: string;
  source: string;
  status: string;
  chunkCount: number;
  durationMs: number;
  error?: { code: string; message: string };
}

const positiveInt =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return n;
  };

export async function main(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  let exitCode = 0;
  const print = (s: string): void => {
    io.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  };

  const program = new Command('graphmill')
    .description('Ingest documents into Neo4j as a lexical graph (local mode: SQLite state + real Neo4j).')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError();

  const common = (cmd: Command): Command =>
    cmd
      .option('--state-dir <dir>', 'state directory (SQLite state, neo4j.env)', '.graphmill')
      .option('--chunk-size <n>', 'chunk size in characters (default 1000)', positiveInt('--chunk-size'))
      .option(
        '--chunk-overlap <n>',
        'chunk overlap in characters (default 200)',
        positiveInt('--chunk-overlap'),
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

  /** Builds config + runtime for a command; every validation problem is reported at once. */
  const open = (opts: CommonOptions, extra: Env = {}): { runtime: Runtime; logger: Logger } => {
    const stateDir = resolve(io.cwd, opts.stateDir);
    const env: Env = {
      ...withLocalNeo4jEnv(io.env, stateDir),
      GRAPHMILL_MODE: 'local',
      GRAPHMILL_STATE_DIR: stateDir,
      LOG_LEVEL: opts.logLevel ?? io.env['LOG_LEVEL'] ?? (opts.json ? 'warning' : 'notice'),
      LOG_FORMAT: io.env['LOG_FORMAT'] ?? 'pretty',
      ...(opts.chunkSize !== undefined ? { CHUNK_SIZE: String(opts.chunkSize) } : {}),
      ...(opts.chunkOverlap !== undefined ? { CHUNK_OVERLAP: String(opts.chunkOverlap) } : {}),
      ...extra,
    };
    const config = parseConfig(env, io.cwd);
    const logger = makeLogger({ ...config.log, base: { function: 'cli' } });
    return { runtime: buildRuntime(config, logger), logger };
  };

  const register = async (paths: string[], opts: CommonOptions & { batch?: string }) => {
    const files = await expandPaths(paths, io.cwd);
    if (files.length === 0) throw new InvalidArgumentError('no files found in the given paths');
    const root = commonRoot(files, io.cwd);
    const docs = files.map((f) => fileDocument(f, root, opts.batch));
    for (const d of docs) {
      if (!DOCUMENT_ID_PATTERN.test(d.id)) {
        throw new InvalidArgumentError(`cannot derive a valid document id from ${d.source} ("${d.id}")`);
      }
    }
    return { docs, root };
  };

  common(program.command('register'))
    .description('record documents without processing them')
    .argument('<files...>', 'files or directories')
    .action(async (paths: string[], opts: CommonOptions) => {
      const { docs, root } = await register(paths, opts);
      const { runtime } = open(opts, { GRAPHMILL_FILE_ROOT: root });
      try {
        const out: DocumentSummary[] = [];
        for (const d of docs) {
          const r = await runtime.pipeline.status.register(d, runtime.pipeline.clock());
          out.push({
            documentId: r.id,
            source: r.source,
            status: r.status,
            chunkCount: r.chunkCount ?? 0,
            durationMs: 0,
          });
        }
        if (opts.json) print(JSON.stringify({ documents: out }));
        else for (const d of out) print(`registered ${d.documentId}  (${d.status})`);
      } finally {
        await runtime.close();
      }
    });

  common(program.command('ingest'))
    .description('register documents, then process them (chunk and write to Neo4j)')
    .argument('<paths...>', 'files or directories')
    .option('--concurrency <n>', 'documents processed at once', positiveInt('--concurrency'), 4)
    .option('--reprocess', 'rewrite documents even when unchanged')
    .action(async (paths: string[], opts: CommonOptions & { concurrency: number; reprocess?: boolean }) => {
      const { docs, root } = await register(paths, opts);
      const { runtime, logger } = open(opts, { GRAPHMILL_FILE_ROOT: root });
      const bar =
        !opts.json && io.stderr.isTTY
          ? new SingleBar(
              { stream: io.stderr, format: 'ingest [{bar}] {value}/{total} {doc}' },
              Presets.shades_classic,
            )
          : undefined;
      try {
        const now = runtime.pipeline.clock;
        for (const d of docs) await runtime.pipeline.status.register(d, now());
        bar?.start(docs.length, 0, { doc: '' });
        const results: DocumentSummary[] = new Array<DocumentSummary>(docs.length);
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < docs.length) {
            const i = next++;
            const d = docs[i]!;
            const t0 = now();
            try {
              const o: DocumentOutcome = await runDocument(runtime.pipeline, {
                documentId: d.id,
                action: opts.reprocess ? 'reprocess_document' : 'process_document',
              });
              results[i] = {
                documentId: d.id,
                source: d.source,
                status: o.status,
                chunkCount: o.chunkCount,
                durationMs: o.durationMs,
              };
            } catch (err) {
              const e = toGraphmillError(err);
              results[i] = {
                documentId: d.id,
                source: d.source,
                status: 'failed',
                chunkCount: 0,
                durationMs: now() - t0,
                error: { code: e.code, message: e.message },
              };
            }
            bar?.increment(1, { doc: d.id });
          }
        };
        await Promise.all(
          Array.from({ length: Math.max(1, Math.min(opts.concurrency, docs.length)) }, worker),
        );
        bar?.stop();
        const failed = results.filter((r) => r.status === 'failed');
        if (failed.length > 0) exitCode = 1;
        if (opts.json) {
          print(JSON.stringify({ documents: results }));
        } else {
          for (const r of results) {
            print(
              `${r.status.padEnd(9)} ${r.documentId}  chunks=${r.chunkCount} ${r.durationMs}ms${r.error ? `  ${r.error.code}: ${r.error.message}` : ''}`,
            );
          }
          const count = (s: string) => results.filter((r) => r.status === s).length;
          print(
            `\n${count('completed')} completed, ${count('unchanged')} unchanged, ${failed.length} failed`,
          );
        }
        logger.debug('ingest finished', { documents: results.length, failed: failed.length });
      } finally {
        bar?.stop();
        await runtime.close();
      }
    });

  common(program.command('status'))
    .description('show one document, or all of them')
    .argument('[documentId]')
    .action(async (documentId: string | undefined, opts: CommonOptions) => {
      const { runtime } = open(opts);
      try {
        const status = runtime.pipeline.status;
        if (documentId !== undefined) {
          const r = await status.get(documentId);
          if (!r) {
            io.stderr.write(`graphmill: document ${documentId} is not registered\n`);
            exitCode = 1;
            return;
          }
          const { content: _content, ...shown } = r;
          print(opts.json ? JSON.stringify(shown) : formatRecord(shown));
          return;
        }
        const all = await status.list();
        if (opts.json) {
          print(JSON.stringify({ documents: all.map(({ content: _c, ...r }) => r) }));
        } else {
          for (const r of all)
            print(
              `${r.status.padEnd(13)} ${r.id}  chunks=${r.chunkCount ?? '-'}${r.error ? `  ${r.error.code}` : ''}`,
            );
          print(`${all.length} documents`);
        }
      } finally {
        await runtime.close();
      }
    });

  program
    .command('serve')
    .description('run the orchestrate HTTP function locally on the same state directory')
    .option('--state-dir <dir>', 'state directory', '.graphmill')
    .option('--port <n>', 'port on 127.0.0.1 (0 picks a free one)', positiveInt('--port'), 8080)
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
      const { getTestServer } = testing;
      const server = getTestServer('orchestrate');
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
    return e.code === 'config_invalid' ? 2 : 1;
  }
  return exitCode;
}

function formatRecord(r: Record<string, unknown>): string {
  return Object.entries(r)
    .map(([k, v]) => `${k.padEnd(15)} ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('\n');
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
