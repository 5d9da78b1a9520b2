/** What every CLI command shares: output, and building the use cases on the local state directory. */
import { resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { parseConfig, type Env } from '../shared/config';
import { withLocalNeo4jEnv } from '../shared/config/env-file';
import { makeLogger } from '../shared/logging';
import { compose, type Composition, type CompositionOverrides } from '../shared/runtime';

export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: Env;
  readonly cwd: string;
  /** For `serve`: resolves when the server should stop (default: SIGINT/SIGTERM). */
  readonly untilStopped?: (port: number) => Promise<void>;
  /** For tests: the runtime's clock and sleep (the retry policies' waits), and extra document sources. */
  readonly runtime?: Pick<CompositionOverrides, 'clock' | 'sleep' | 'sources'>;
}

export interface CommonOptions {
  stateDir: string;
  chunkSize?: number;
  chunkOverlap?: number;
  json?: boolean;
  logLevel?: string;
}

export interface CliContext {
  readonly io: CliIo;
  print(text: string): void;
  /** Builds config + the composition's use cases; every validation problem is reported at once. */
  open(opts: CommonOptions, extra?: Env): Composition;
  setExitCode(code: number): void;
}

export const nonNegativeInt =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return n;
  };

export const positiveInt =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };

export function makeContext(io: CliIo, setExitCode: (code: number) => void): CliContext {
  return {
    io,
    setExitCode,
    print: (s) => {
      io.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
    },
    open(opts, extra = {}) {
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
      return compose(config, logger, { ...io.runtime, functionName: 'cli' });
    },
  };
}
