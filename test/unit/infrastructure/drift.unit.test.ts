/**
 * scripts/check-function-drift.sh: a git history with commits at controlled dates, and faked
 * `gcloud functions describe` answers naming the deployed commit.
 *
 * History (oldest first): initial (30 d ago) -> ingestEvent changed (72 h ago) -> orchestrate changed
 * (2 h ago) -> docs changed (1 h ago, not a source of any function) = HEAD.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  FUNCTION_NAMES,
  PROJECT,
  commitChange,
  createSandbox,
  git,
  hasCommand,
  hoursAgo,
  itWhen,
  removeSandboxes,
  runScript,
  seedDeployedFunction,
  type Sandbox,
} from './harness';

const DRIFT = 'scripts/check-function-drift.sh';

afterAll(removeSandboxes);

let sandbox: Sandbox;
let initial: string;
let ingestChange: string;
let orchestrateChange: string;
let head: string;

beforeAll(() => {
  sandbox = createSandbox();
  initial = git(sandbox.repo, ['rev-parse', 'HEAD']);
  ingestChange = commitChange(
    sandbox,
    'functions/ingestEvent/index.ts',
    'ingestEvent: handle batches',
    hoursAgo(72),
  );
  orchestrateChange = commitChange(
    sandbox,
    'functions/orchestrate/index.ts',
    'orchestrate: 413 on large bodies',
    hoursAgo(2),
  );
  head = commitChange(sandbox, 'docs/notes.md', 'docs only', hoursAgo(1));
});

beforeEach(() => {
  fs.rmSync(path.join(sandbox.state, 'r', 'function'), { recursive: true, force: true });
});

/** Every function deployed at `sha`, except the ones overridden. */
function deploy(sha: string, overrides: Partial<Record<string, string | null>> = {}): void {
  for (const name of FUNCTION_NAMES) {
    const override = overrides[name];
    if (override === null) continue; // not deployed
    seedDeployedFunction(sandbox, name, {
      gitSha: (override ?? sha).slice(0, 12),
      updateTime: '2025-06-01T10:00:00Z',
    });
  }
}

function drift(...args: string[]) {
  return runScript(sandbox, DRIFT, ['--project', PROJECT, ...args]);
}

/** The report line of one function ('' when there is none). */
function lineOf(stdout: string, name: string): string {
  return (
    stdout.split('\n').find((line) => new RegExp(`^(up to date|warning|stale)\\s+${name}\\s`).test(line)) ??
    ''
  );
}

/** The "missing:" lines printed under a function's line by -v. */
function missingOf(stdout: string, name: string): string[] {
  const lines = stdout.split('\n');
  const missing: string[] = [];
  for (let i = lines.indexOf(lineOf(stdout, name)) + 1; i < lines.length; i++) {
    const match = lines[i]?.match(/^\s+missing: (.*)$/);
    if (!match?.[1]) break;
    missing.push(match[1]);
  }
  return missing;
}

function statusOf(stdout: string, name: string): string {
  return lineOf(stdout, name).match(/^(up to date|warning|stale)/)?.[1] ?? `no line for ${name}`;
}

describe('check-function-drift.sh', () => {
  it('up to date: every function deployed at HEAD; exit 0', () => {
    deploy(head);
    const result = drift();
    expect(result.status).toBe(0);
    for (const name of FUNCTION_NAMES) expect(statusOf(result.stdout, name)).toBe('up to date');
    expect(result.stdout).toMatch(/summary: 7 up to date, 0 warning, 0 stale/);
  });

  it('up to date: deployed before HEAD, but at or after the last change to its sources', () => {
    // health and phaseTransition have not changed since the initial commit; shared/ neither.
    deploy(head, { health: initial, phaseTransition: ingestChange });
    const result = drift();
    expect(result.status).toBe(0);
    expect(statusOf(result.stdout, 'health')).toBe('up to date');
    expect(statusOf(result.stdout, 'phaseTransition')).toBe('up to date');
  });

  it('warning: behind by a commit younger than 24 h; exit 0', () => {
    deploy(head, { orchestrate: ingestChange });
    const result = drift();
    expect(result.status).toBe(0);
    expect(statusOf(result.stdout, 'orchestrate')).toBe('warning');
    expect(lineOf(result.stdout, 'orchestrate')).toMatch(
      /1 commit\(s\) behind .*oldest missing \d+ (min|h) old/,
    );
    expect(result.stdout).toMatch(/summary: 6 up to date, 1 warning, 0 stale/);
  });

  it('stale: behind by a commit older than 24 h; exit 1', () => {
    deploy(head, { ingestEvent: initial });
    const result = drift();
    expect(result.status).toBe(1);
    expect(statusOf(result.stdout, 'ingestEvent')).toBe('stale');
    expect(lineOf(result.stdout, 'ingestEvent')).toMatch(/oldest missing 3 d old/);
    expect(result.stdout).toMatch(/summary: 6 up to date, 0 warning, 1 stale/);
  });

  it('the age that makes a function stale is the oldest missing commit, and --max-age-hours moves it', () => {
    deploy(head, { ingestEvent: initial });
    const relaxed = drift('--max-age-hours', '100');
    expect(relaxed.status).toBe(0);
    expect(statusOf(relaxed.stdout, 'ingestEvent')).toBe('warning');
  });

  it('-v lists the missing commits of each function behind', () => {
    deploy(head, { ingestEvent: initial, orchestrate: initial });
    const result = drift('-v');
    const short = (sha: string) => git(sandbox.repo, ['rev-parse', '--short', sha]);
    expect(result.stdout).toContain(`missing: ${short(ingestChange)} ingestEvent: handle batches`);
    expect(result.stdout).toContain(`missing: ${short(orchestrateChange)} orchestrate: 413 on large bodies`);
    // only the commits touching that function's own sources, listed under its line
    expect(missingOf(result.stdout, 'orchestrate')).toEqual([
      `${short(orchestrateChange)} orchestrate: 413 on large bodies`,
    ]);
    expect(missingOf(result.stdout, 'ingestEvent')).toEqual([
      `${short(ingestChange)} ingestEvent: handle batches`,
    ]);
    expect(result.stdout).not.toContain('docs only');
    // without -v, no listing
    expect(drift().stdout).not.toContain('missing:');
  });

  it('a function not deployed is a warning; one without a label or with an unknown commit is stale', () => {
    deploy(head, { reconcile: null, watchdog: 'deadbeefdeadbeef' });
    seedDeployedFunction(sandbox, 'health', {}); // deployed by hand, no git-sha label
    const result = drift();
    expect(result.status).toBe(1);
    expect(statusOf(result.stdout, 'reconcile')).toBe('warning');
    expect(lineOf(result.stdout, 'reconcile')).toMatch(/not deployed/);
    expect(statusOf(result.stdout, 'watchdog')).toBe('stale');
    expect(lineOf(result.stdout, 'watchdog')).toMatch(/a commit this repository does not have/);
    expect(statusOf(result.stdout, 'health')).toBe('stale');
    expect(lineOf(result.stdout, 'health')).toMatch(/no git-sha label/);
  });

  it('checks only the functions named', () => {
    deploy(head, { ingestEvent: initial });
    const result = drift('orchestrate');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/summary: 1 up to date, 0 warning, 0 stale/);
    expect(result.calls).toEqual([
      `gcloud functions describe orchestrate --gen2 --region=europe-west1 --project=${PROJECT} --format=json`,
    ]);
  });

  it('exits 2 when gcloud fails for another reason than NOT_FOUND', () => {
    deploy(head);
    const result = runScript(sandbox, DRIFT, ['--project', PROJECT], {
      FAKE_GCP_FAIL_PATTERN: 'functions describe health ',
      FAKE_GCP_FAIL_MESSAGE: 'ERROR: (gcloud.functions.describe) PERMISSION_DENIED: Permission denied',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/PERMISSION_DENIED/);
  });

  it('no colour when stdout is not a terminal', () => {
    deploy(head, { ingestEvent: initial, orchestrate: ingestChange });
    expect(drift().stdout).not.toContain('\u001b[');
  });

  itWhen(hasCommand('script'), 'util-linux `script` is not installed (it provides the pseudo-terminal)')(
    'colour on a terminal',
    () => {
      deploy(head, { ingestEvent: initial, orchestrate: ingestChange });
      const command = `${path.join(sandbox.repo, DRIFT)} --project ${PROJECT}`;
      const result = spawnSync('script', ['-qec', command, '/dev/null'], {
        cwd: sandbox.repo,
        encoding: 'utf8',
        env: {
          PATH: `${sandbox.bin}:${process.env['PATH'] ?? ''}`,
          HOME: sandbox.dir,
          FAKE_GCP_STATE: sandbox.state,
          FAKE_GCP_LOG: sandbox.log,
          TERM: 'xterm',
        },
      });
      expect(result.stdout).toContain('\u001b[31mstale');
      expect(result.stdout).toContain('\u001b[33mwarning');
      expect(result.stdout).toContain('\u001b[32mup to date');
    },
  );
});

describe('check-function-drift.sh with a change to shared/', () => {
  it('a change to shared/ older than 24 h makes every function deployed before it stale', () => {
    const shared = createSandbox();
    const before = git(shared.repo, ['rev-parse', 'HEAD']);
    commitChange(shared, 'shared/index.ts', 'shared: retry budget', hoursAgo(30));
    for (const name of FUNCTION_NAMES) seedDeployedFunction(shared, name, { gitSha: before.slice(0, 12) });
    const result = runScript(shared, DRIFT, ['--project', PROJECT, '-v']);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/summary: 0 up to date, 0 warning, 7 stale/);
    expect(result.stdout.match(/missing: [0-9a-f]+ shared: retry budget/g)).toHaveLength(7);
  });
});
