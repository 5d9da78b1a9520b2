/**
 * Test harness for the operations scripts (infrastructure/*.sh, scripts/check-function-drift.sh).
 *
 * A sandbox is a temporary directory with:
 * - bin/: the fake `gcloud` and `bq` of ./fakes, first on PATH. They record every call (shell-quoted,
 *   exactly as the scripts print their commands) and answer from state/, like a tiny emulator:
 *   creates add resources, describes find them or fail with gcloud's real NOT_FOUND answer.
 * - repo/: a git repository holding a copy of the scripts and a skeleton of the sources
 *   (functions/<name>/, shared/), so that deploy, rollback and drift work on commits the test controls
 *   and never on the real checkout.
 * Nothing here touches the network.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const PROJECT = 'demo-proj';
export const REGION = 'europe-west1';
export const FUNCTION_NAMES = [
  'orchestrate',
  'health',
  'ingestEvent',
  'phaseTransition',
  'replayDeadLetters',
  'watchdog',
  'reconcile',
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** A fixed build time, so that a dry run and a real run print the same --set-env-vars. */
export const BUILD_TIME = '2025-01-01T00:00:00Z';
export const DEPLOY_ENV = {
  NEO4J_URI: 'neo4j+s://abc123.databases.neo4j.io',
  GRAPHMILL_BUILD_TIME: BUILD_TIME,
};

export interface Sandbox {
  readonly dir: string;
  readonly repo: string;
  readonly state: string;
  readonly log: string;
  readonly bin: string;
}

export interface ScriptResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The gcloud / bq calls made during this run, in order. */
  readonly calls: string[];
  /** The "+ command" lines the script printed (without the "+ "). */
  readonly printed: string[];
}

const sandboxes: string[] = [];

/** Removes every sandbox created so far (call from afterAll). */
export function removeSandboxes(): void {
  for (const dir of sandboxes.splice(0)) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function createSandbox(options: { functions?: readonly string[] } = {}): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graphmill-infra-'));
  sandboxes.push(dir);
  const bin = path.join(dir, 'bin');
  const state = path.join(dir, 'state');
  const repo = path.join(dir, 'repo');
  const log = path.join(dir, 'calls.log');
  for (const d of [bin, state, repo, path.join(dir, 'tmp')]) fs.mkdirSync(d, { recursive: true });
  for (const fake of ['gcloud', 'bq']) {
    fs.copyFileSync(path.join(__dirname, 'fakes', fake), path.join(bin, fake));
    fs.chmodSync(path.join(bin, fake), 0o755);
  }
  fs.writeFileSync(log, '');

  fs.cpSync(path.join(REPO_ROOT, 'infrastructure'), path.join(repo, 'infrastructure'), { recursive: true });
  fs.mkdirSync(path.join(repo, 'scripts'));
  fs.copyFileSync(
    path.join(REPO_ROOT, 'scripts', 'check-function-drift.sh'),
    path.join(repo, 'scripts', 'check-function-drift.sh'),
  );
  for (const script of fs.readdirSync(path.join(repo, 'infrastructure')).filter((f) => f.endsWith('.sh'))) {
    fs.chmodSync(path.join(repo, 'infrastructure', script), 0o755);
  }
  fs.chmodSync(path.join(repo, 'scripts', 'check-function-drift.sh'), 0o755);
  fs.copyFileSync(path.join(REPO_ROOT, '.gcloudignore'), path.join(repo, '.gcloudignore'));
  fs.writeFileSync(path.join(repo, 'package.json'), '{ "name": "graphmill-fixture", "private": true }\n');
  fs.mkdirSync(path.join(repo, 'shared'));
  fs.writeFileSync(path.join(repo, 'shared', 'index.ts'), 'export const shared = 1;\n');
  for (const name of options.functions ?? FUNCTION_NAMES) {
    fs.mkdirSync(path.join(repo, 'functions', name), { recursive: true });
    fs.writeFileSync(path.join(repo, 'functions', name, 'index.ts'), `// ${name}\n`);
  }
  git(repo, ['init', '--quiet', '--initial-branch=main']);
  git(repo, ['add', '-A']);
  git(repo, ['commit', '--quiet', '-m', 'initial'], hoursAgo(24 * 30));
  return { dir, repo, state, log, bin };
}

/** An ISO date `hours` before now (for GIT_COMMITTER_DATE). */
export function hoursAgo(hours: number): string {
  return new Date(Date.now() - hours * 3_600_000).toISOString();
}

/** Runs git in `cwd` with a fixed identity; `date` sets author and committer dates. */
export function git(cwd: string, args: readonly string[], date?: string): string {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: cwd,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
  };
  if (date !== undefined) {
    env['GIT_AUTHOR_DATE'] = date;
    env['GIT_COMMITTER_DATE'] = date;
  }
  const result = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`git ${args.join(' ')} failed: ${result.stderr}`);
  }
  return result.stdout.trim();
}

/** Writes a file in the sandbox repository and commits it at `date`; returns the new commit. */
export function commitChange(sandbox: Sandbox, file: string, message: string, date: string): string {
  const target = path.join(sandbox.repo, file);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.appendFileSync(target, `// ${message}\n`);
  git(sandbox.repo, ['add', file]);
  git(sandbox.repo, ['commit', '--quiet', '-m', message], date);
  return git(sandbox.repo, ['rev-parse', 'HEAD']);
}

/** Runs a script of the sandbox repository (e.g. 'infrastructure/setup.sh') with the fakes on PATH. */
export function runScript(
  sandbox: Sandbox,
  script: string,
  args: readonly string[],
  env: Record<string, string> = {},
): ScriptResult {
  const before = fs.readFileSync(sandbox.log, 'utf8').length;
  const result = spawnSync(path.join(sandbox.repo, script), args, {
    cwd: sandbox.repo,
    encoding: 'utf8',
    timeout: 120_000,
    env: {
      PATH: `${sandbox.bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      HOME: sandbox.dir,
      TMPDIR: path.join(sandbox.dir, 'tmp'),
      LANG: 'C.UTF-8',
      GIT_CONFIG_NOSYSTEM: '1',
      FAKE_GCP_STATE: sandbox.state,
      FAKE_GCP_LOG: sandbox.log,
      GRAPHMILL_IAM_RETRY_SECONDS: '0',
      ...env,
    },
  });
  const calls = fs
    .readFileSync(sandbox.log, 'utf8')
    .slice(before)
    .split('\n')
    .filter((line) => line.length > 0);
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    calls,
    printed: printedCommands(result.stdout),
  };
}

export function printedCommands(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('+ '))
    .map((line) => line.slice(2));
}

const READ_VERBS = new Set(['describe', 'list', 'get-iam-policy', 'show']);

/** Is a recorded call a read (describe, list, get-iam-policy, show) rather than a change? */
export function isReadOnly(call: string): boolean {
  return splitShellWords(call)
    .filter((word) => !word.startsWith('-'))
    .some((word) => READ_VERBS.has(word));
}

/** Splits a line quoted by bash's printf %q (backslash escapes and single quotes) into its words. */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line.charAt(i);
    if (ch === '\\') {
      current += line.charAt(i + 1);
      i++;
      inWord = true;
    } else if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in: ${line}`);
      current += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (ch === '$' && line.charAt(i + 1) === "'") {
      throw new Error(`ANSI-C quoting is not expected in: ${line}`);
    } else if (ch === ' ') {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/** The --name=value flags of a command (a flag without a value maps to true; repeated flags: last wins). */
export function flagsOf(call: string): Map<string, string | true> {
  const flags = new Map<string, string | true>();
  for (const word of splitShellWords(call)) {
    if (!word.startsWith('--')) continue;
    const eq = word.indexOf('=');
    if (eq < 0) flags.set(word.slice(2), true);
    else flags.set(word.slice(2, eq), word.slice(eq + 1));
  }
  return flags;
}

/** Every value of a repeatable flag, in order. */
export function flagValues(call: string, name: string): string[] {
  return splitShellWords(call)
    .filter((word) => word.startsWith(`--${name}=`))
    .map((word) => word.slice(name.length + 3));
}

/** Calls whose words start with the given prefix, e.g. ['gcloud', 'pubsub', 'topics', 'create']. */
export function callsStartingWith(calls: readonly string[], prefix: readonly string[]): string[] {
  return calls.filter((call) => {
    const words = splitShellWords(call);
    return prefix.every((word, i) => words[i] === word);
  });
}

/** Puts a deployed function straight into the fake's state, as `gcloud functions describe` returns it. */
export function seedDeployedFunction(
  sandbox: Sandbox,
  name: string,
  fields: { gitSha?: string; updateTime?: string },
): void {
  const lower = name.toLowerCase();
  const labels: Record<string, string> = { app: 'graphmill' };
  if (fields.gitSha !== undefined) labels['git-sha'] = fields.gitSha;
  const description = {
    name: `projects/${PROJECT}/locations/${REGION}/functions/${name}`,
    environment: 'GEN_2',
    state: 'ACTIVE',
    updateTime: fields.updateTime ?? '2025-01-01T00:00:00.000000Z',
    labels,
    serviceConfig: {
      service: `projects/${PROJECT}/locations/${REGION}/services/${lower}`,
      uri: `https://${lower}-fake-ew.a.run.app`,
    },
  };
  const dir = path.join(sandbox.state, 'r', 'function');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), JSON.stringify(description));
}

export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
}

export type TestRegistrar = (name: string, fn: jest.ProvidesCallback, timeout?: number) => void;

/**
 * `it` when `condition` holds; otherwise a skipped test whose name carries the reason, which is also
 * printed, so that a skip is never silent.
 */
export function itWhen(condition: boolean, reason: string): TestRegistrar {
  if (condition) return (name, fn, timeout) => it(name, fn, timeout);
  process.stderr.write(`[infrastructure tests] skipping: ${reason}\n`);
  return (name, fn, timeout) => it.skip(`${name} (skipped: ${reason})`, fn, timeout);
}
