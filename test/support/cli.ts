/** Runs the graphmill CLI in-process with captured output. */
import { PassThrough } from 'node:stream';
import { main, type CliIo } from '../../cli/main';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(
  argv: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv } & Partial<CliIo>,
): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (b: Buffer) => out.push(b));
  stderr.on('data', (b: Buffer) => err.push(b));
  const code = await main(argv, {
    stdout,
    stderr,
    env: { ...process.env, LOG_LEVEL: 'warning', ...(options.env ?? {}) },
    cwd: options.cwd,
    ...(options.untilStopped ? { untilStopped: options.untilStopped } : {}),
    ...(options.runtime ? { runtime: options.runtime } : {}),
  });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
