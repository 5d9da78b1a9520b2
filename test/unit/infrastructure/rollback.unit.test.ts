/**
 * infrastructure/rollback.sh: refuses what is not a known commit, and redeploys a known one from a
 * temporary worktree, with that commit's label and version, leaving the checkout untouched.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DEPLOY_ENV,
  PROJECT,
  callsStartingWith,
  commitChange,
  createSandbox,
  flagsOf,
  git,
  hoursAgo,
  isReadOnly,
  removeSandboxes,
  runScript,
  splitShellWords,
  type Sandbox,
} from './harness';

const ROLLBACK = 'infrastructure/rollback.sh';

afterAll(removeSandboxes);

/** A project whose runtime account exists (so deploy.sh's check passes) without a full setup run. */
function seedRuntimeAccount(sandbox: Sandbox): void {
  const dir = path.join(sandbox.state, 'r', 'service-account');
  fs.mkdirSync(dir, { recursive: true });
  const email = `graphmill-runtime@${PROJECT}.iam.gserviceaccount.com`;
  fs.writeFileSync(path.join(dir, email), JSON.stringify({ email }));
}

describe('rollback.sh refuses', () => {
  let sandbox: Sandbox;
  beforeAll(() => {
    sandbox = createSandbox();
  });

  it.each([
    ['an unknown sha', '0123456789abcdef0123', /unknown commit 0123456789abcdef0123/],
    ['a branch name', 'main', /not a git sha: main/],
    ['something that is not a sha', 'HEAD~1', /not a git sha/],
    ['a too short sha', 'abc', /not a git sha/],
  ])('%s, before any gcloud call', (_what, sha, message) => {
    const result = runScript(sandbox, ROLLBACK, ['--project', PROJECT, sha], DEPLOY_ENV);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.calls).toEqual([]);
  });

  it('to run without a commit', () => {
    const result = runScript(sandbox, ROLLBACK, ['--project', PROJECT], DEPLOY_ENV);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/which commit\?/);
  });

  it('an unknown function name', () => {
    const head = git(sandbox.repo, ['rev-parse', 'HEAD']);
    const result = runScript(sandbox, ROLLBACK, ['--project', PROJECT, head, 'nope'], DEPLOY_ENV);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/unknown function: nope/);
    expect(result.calls).toEqual([]);
  });
});

describe('rollback.sh to an earlier commit', () => {
  let sandbox: Sandbox;
  let old: string;
  let head: string;

  beforeAll(() => {
    // At the old commit watchdog did not exist yet.
    sandbox = createSandbox({
      functions: [
        'orchestrate',
        'health',
        'ingestEvent',
        'phaseTransition',
        'replayDeadLetters',
        'reconcile',
      ],
    });
    seedRuntimeAccount(sandbox);
    old = git(sandbox.repo, ['rev-parse', 'HEAD']);
    commitChange(sandbox, 'functions/health/index.ts', 'health v2', hoursAgo(5));
    head = commitChange(sandbox, 'functions/watchdog/index.ts', 'add watchdog', hoursAgo(4));
  });

  it('redeploys the functions that existed then, from that commit, labelled with it', () => {
    const result = runScript(sandbox, ROLLBACK, ['--project', PROJECT, old.slice(0, 10)], DEPLOY_ENV);
    expect(result.stderr).not.toMatch(/error:/);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/watchdog does not exist at [0-9a-f]{12}: skipped/);

    const deploys = callsStartingWith(result.calls, ['gcloud', 'functions', 'deploy']);
    expect(deploys.map((call) => splitShellWords(call)[3])).toEqual([
      'orchestrate',
      'health',
      'ingestEvent',
      'phaseTransition',
      'replayDeadLetters',
      'reconcile',
    ]);
    for (const call of deploys) {
      const flags = flagsOf(call);
      expect(flags.get('update-labels')).toBe(`git-sha=${old.slice(0, 12)},app=graphmill`);
      expect(flags.get('set-env-vars')).toContain(`GRAPHMILL_VERSION=${old}`);
      expect(flags.get('source')).not.toBe(sandbox.repo);
    }
    // The fake recorded which commit the uploaded source directory was at.
    const health = JSON.parse(
      fs.readFileSync(path.join(sandbox.state, 'r', 'function', 'health'), 'utf8'),
    ) as {
      buildConfig: { sourceCommitSeenByFake: string };
    };
    expect(health.buildConfig.sourceCommitSeenByFake).toBe(old);
  });

  it('leaves the checkout as it was and removes its worktree', () => {
    expect(git(sandbox.repo, ['rev-parse', 'HEAD'])).toBe(head);
    expect(git(sandbox.repo, ['status', '--porcelain'])).toBe('');
    expect(git(sandbox.repo, ['worktree', 'list']).split('\n')).toHaveLength(1);
  });

  it('in a dry run prints the deploys and changes nothing', () => {
    const result = runScript(
      sandbox,
      ROLLBACK,
      ['--project', PROJECT, '--dry-run', old, 'health'],
      DEPLOY_ENV,
    );
    expect(result.status).toBe(0);
    expect(result.calls.filter((call) => !isReadOnly(call))).toEqual([]);
    expect(result.printed.map((call) => splitShellWords(call).slice(0, 4).join(' '))).toEqual([
      'gcloud functions deploy health',
    ]);
    expect(git(sandbox.repo, ['worktree', 'list']).split('\n')).toHaveLength(1);
  });

  it('refuses when none of the named functions existed at that commit', () => {
    const result = runScript(sandbox, ROLLBACK, ['--project', PROJECT, old, 'watchdog'], DEPLOY_ENV);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/none of watchdog exists/);
    expect(callsStartingWith(result.calls, ['gcloud', 'functions', 'deploy'])).toEqual([]);
    expect(git(sandbox.repo, ['worktree', 'list']).split('\n')).toHaveLength(1);
  });
});
