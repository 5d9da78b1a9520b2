/**
 * The logic inside two workflow steps, run the way GitHub runs them (bash -eo pipefail) with stubs for
 * the commands they call: the rollback step of deploy.yml (one rollback.sh per previously deployed
 * commit) and the issue steps of drift.yml (one issue labelled function-drift, created, updated or
 * closed through `gh`).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { parse as parseYaml } from 'yaml';
import * as path from 'node:path';
import { REPO_ROOT } from './harness';

const yaml = { load: (text: string): unknown => parseYaml(text) as unknown };

interface Step {
  name?: string;
  run?: string;
}
interface Workflow {
  jobs: Record<string, { steps: Step[] }>;
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function stepScript(file: string, jobName: string, stepName: string): string {
  const wf = yaml.load(
    fs.readFileSync(path.join(REPO_ROOT, '.github', 'workflows', file), 'utf8'),
  ) as Workflow;
  const run = wf.jobs[jobName]?.steps.find((s) => s.name === stepName)?.run;
  if (!run) throw new Error(`${file}: no step "${stepName}" with a run script in job ${jobName}`);
  return run;
}

/** A working directory with stub commands that record their arguments in calls.log. */
function workspace(stubs: Record<string, string>): { dir: string; calls: () => string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graphmill-step-'));
  dirs.push(dir);
  for (const [name, body] of Object.entries(stubs)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `#!/usr/bin/env bash\necho "${name} $*" >> "${dir}/calls.log"\n${body}\n`);
    fs.chmodSync(file, 0o755);
  }
  fs.mkdirSync(path.join(dir, 'runner-temp'));
  return {
    dir,
    calls: () => {
      const log = path.join(dir, 'calls.log');
      return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
    },
  };
}

function runStep(script: string, dir: string, env: Record<string, string> = {}) {
  return spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    cwd: dir,
    encoding: 'utf8',
    env: {
      PATH: `${path.join(dir, 'bin')}:${process.env['PATH'] ?? ''}`,
      RUNNER_TEMP: path.join(dir, 'runner-temp'),
      ...env,
    },
  });
}

describe('deploy.yml: roll back to the previously deployed versions', () => {
  const script = stepScript('deploy.yml', 'deploy', 'Roll back to the previously deployed versions');

  it('rolls each group of functions back to the commit it ran, skipping the ones not deployed before', () => {
    const ws = workspace({ 'infrastructure/rollback.sh': '' });
    fs.writeFileSync(
      path.join(ws.dir, 'runner-temp', 'previous-versions.tsv'),
      [
        'orchestrate\tabc123abc123\t2025-06-01T10:00:00Z',
        'health\tabc123abc123\t2025-06-01T10:00:00Z',
        'ingestEvent\tdef456def456-dirty\t2025-05-01T10:00:00Z',
        'watchdog\t-\t-',
      ].join('\n') + '\n',
    );
    const result = runStep(script, ws.dir);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(ws.calls()).toEqual([
      'infrastructure/rollback.sh abc123abc123 orchestrate health',
      'infrastructure/rollback.sh def456def456 ingestEvent',
    ]);
  });

  it('does nothing after a first deploy (nothing ran before) or without a record', () => {
    const first = workspace({ 'infrastructure/rollback.sh': '' });
    fs.writeFileSync(
      path.join(first.dir, 'runner-temp', 'previous-versions.tsv'),
      'health\t-\t-\norchestrate\t-\t-\n',
    );
    expect(runStep(script, first.dir).status).toBe(0);
    expect(first.calls()).toEqual([]);

    const none = workspace({ 'infrastructure/rollback.sh': '' });
    const result = runStep(script, none.dir);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/nothing to roll back to/);
    expect(none.calls()).toEqual([]);
  });

  it('fails when a rollback fails', () => {
    const ws = workspace({ 'infrastructure/rollback.sh': 'exit 1' });
    fs.writeFileSync(path.join(ws.dir, 'runner-temp', 'previous-versions.tsv'), 'health\tabc123abc123\t-\n');
    expect(runStep(script, ws.dir).status).not.toBe(0);
  });
});

describe('drift.yml: one issue labelled function-drift', () => {
  const open = stepScript('drift.yml', 'drift', 'Open or update the drift issue');
  const close = stepScript('drift.yml', 'drift', 'Close the drift issue');

  function ghWorkspace(openIssue: string) {
    // `gh issue list ... --jq ...` prints the open issue's number, or nothing.
    const ws = workspace({ 'bin/gh': `if [ "$1 $2" = "issue list" ]; then printf '%s' '${openIssue}'; fi` });
    fs.writeFileSync(
      path.join(ws.dir, 'drift-report.txt'),
      'stale      ingestEvent        deployed abc\nsummary: 6 up to date, 0 warning, 1 stale\n',
    );
    return ws;
  }

  it('creates the issue, with the report, when none is open', () => {
    const ws = ghWorkspace('');
    const result = runStep(open, ws.dir, {
      GITHUB_SERVER_URL: 'https://github.example',
      GITHUB_REPOSITORY: 'o/r',
      GITHUB_RUN_ID: '7',
    });
    expect(result.status).toBe(0);
    const calls = ws.calls();
    expect(calls[0]).toMatch(/^bin\/gh label create function-drift .*--force$/);
    expect(calls).toContain(
      'bin/gh issue create --title Deployed functions are stale --label function-drift --body-file issue-body.md',
    );
    expect(calls.filter((c) => /issue (edit|comment)/.test(c))).toEqual([]);
    const body = fs.readFileSync(path.join(ws.dir, 'issue-body.md'), 'utf8');
    expect(body).toContain('summary: 6 up to date, 0 warning, 1 stale');
    expect(body).toContain('https://github.example/o/r/actions/runs/7');
  });

  it('updates the open issue instead of opening a second one', () => {
    const ws = ghWorkspace('42');
    expect(runStep(open, ws.dir).status).toBe(0);
    const calls = ws.calls();
    expect(calls).toContain('bin/gh issue edit 42 --body-file issue-body.md');
    expect(calls.some((c) => c.startsWith('bin/gh issue comment 42 '))).toBe(true);
    expect(calls.filter((c) => c.includes('issue create'))).toEqual([]);
  });

  it('closes the open issue when nothing is stale any more, and does nothing when none is open', () => {
    const ws = ghWorkspace('42');
    expect(runStep(close, ws.dir).status).toBe(0);
    expect(ws.calls().some((c) => c.startsWith('bin/gh issue close 42 '))).toBe(true);

    const quiet = ghWorkspace('');
    expect(runStep(close, quiet.dir).status).toBe(0);
    expect(quiet.calls().filter((c) => !c.includes('issue list'))).toEqual([]);
  });
});
