/**
 * Runs the graphmill CLI as a child process, from the TypeScript sources (transpiled on load, as jest
 * does), so a test sees the real exit code and the process's own end without a build first.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { CliResult } from './cli';

const ROOT = join(__dirname, '..', '..');

const LOADER = `
  const ts = require('typescript');
  const { readFileSync } = require('node:fs');
  const compilerOptions = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2023, esModuleInterop: true };
  require.extensions['.ts'] = (m, file) =>
    m._compile(ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions, fileName: file }).outputText, file);
  require(process.env.GRAPHMILL_CLI_MAIN).main(process.argv.slice(1)).then((code) => { process.exitCode = code; });
`;

export function spawnCli(
  argv: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<CliResult> {
  const child = spawn(process.execPath, ['-e', LOADER, '--', ...argv], {
    cwd: options.cwd,
    env: {
      ...process.env,
      LOG_LEVEL: 'warning',
      ...options.env,
      GRAPHMILL_CLI_MAIN: join(ROOT, 'cli', 'main.ts'),
      NODE_PATH: join(ROOT, 'node_modules'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}
