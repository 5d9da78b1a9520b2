/**
 * .github/workflows: parsed as YAML and checked for the jobs and steps the team expects, for actions
 * from an allow-list at real major versions with inputs those actions have, for `run:` scripts that
 * bash (and shellcheck, if installed) accept, and for references (scripts, npm scripts, repository
 * variables) that exist.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { parse as parseYaml } from 'yaml';
import * as path from 'node:path';
import { REPO_ROOT, hasCommand, itWhen } from './harness';

const yaml = { load: (text: string): unknown => parseYaml(text) as unknown };

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  if?: string;
}
interface Service {
  image: string;
  env?: Record<string, string>;
  ports?: (string | number)[];
  options?: string;
}
interface Job {
  name?: string;
  'runs-on': string;
  needs?: string | string[];
  env?: Record<string, string>;
  services?: Record<string, Service>;
  permissions?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

const WORKFLOW_DIR = path.join(REPO_ROOT, '.github', 'workflows');
const workflowFiles = fs.readdirSync(WORKFLOW_DIR).filter((f) => /\.ya?ml$/.test(f));
const workflows = new Map(
  workflowFiles.map((file) => [
    file,
    yaml.load(fs.readFileSync(path.join(WORKFLOW_DIR, file), 'utf8')) as Workflow,
  ]),
);

/** The actions the workflows may use, each with the inputs it documents (a misspelt input is an error). */
const ALLOWED_ACTIONS: Record<string, readonly string[]> = {
  'actions/checkout@v4': ['fetch-depth', 'ref', 'repository', 'token', 'persist-credentials'],
  'actions/setup-node@v4': ['node-version', 'node-version-file', 'cache', 'cache-dependency-path'],
  'actions/setup-java@v4': ['distribution', 'java-version', 'cache'],
  'actions/upload-artifact@v4': [
    'name',
    'path',
    'retention-days',
    'if-no-files-found',
    'include-hidden-files',
  ],
  'actions/github-script@v7': ['script', 'github-token', 'result-encoding'],
  'google-github-actions/auth@v2': [
    'workload_identity_provider',
    'service_account',
    'project_id',
    'token_format',
    'id_token_audience',
    'id_token_include_email',
    'create_credentials_file',
    'export_environment_variables',
  ],
  'google-github-actions/setup-gcloud@v2': ['version', 'project_id', 'install_components', 'skip_install'],
};

function workflow(file: string): Workflow {
  const parsed = workflows.get(file);
  if (!parsed) throw new Error(`no workflow ${file}`);
  return parsed;
}

function job(file: string, name: string): Job {
  const found = workflow(file).jobs[name];
  if (!found) throw new Error(`${file} has no job ${name}`);
  return found;
}

function allSteps(): { file: string; job: string; step: Step }[] {
  return [...workflows].flatMap(([file, wf]) =>
    Object.entries(wf.jobs).flatMap(([name, j]) => j.steps.map((step) => ({ file, job: name, step }))),
  );
}

function runs(j: Job): string {
  return j.steps.map((s) => s.run ?? '').join('\n');
}

function stepIndex(j: Job, predicate: (s: Step) => boolean): number {
  return j.steps.findIndex(predicate);
}

/** A run: script as bash sees it once GitHub has replaced the ${{ }} expressions. */
function runScriptText(run: string): string {
  return `#!/usr/bin/env bash\nset -eo pipefail\n${run.replace(/\$\{\{[^}]*\}\}/g, 'GITHUB_EXPRESSION')}\n`;
}

describe('workflows', () => {
  it('are ci.yml, deploy.yml and drift.yml', () => {
    expect(workflowFiles.sort()).toEqual(['ci.yml', 'deploy.yml', 'drift.yml']);
  });

  it.each(workflowFiles)(
    '%s: has a name, triggers and jobs whose steps each either use an action or run',
    (file) => {
      const wf = workflow(file);
      expect(typeof wf.name).toBe('string');
      expect(Object.keys(wf.on).length).toBeGreaterThan(0);
      for (const [name, j] of Object.entries(wf.jobs)) {
        expect({ job: name, runsOn: j['runs-on'] }).toEqual({ job: name, runsOn: 'ubuntu-latest' });
        expect(j.steps.length).toBeGreaterThan(0);
        for (const step of j.steps) {
          expect({ job: name, step, both: Boolean(step.uses) === Boolean(step.run) }).toEqual({
            job: name,
            step,
            both: false,
          });
        }
        const ids = j.steps.flatMap((s) => (s.id ? [s.id] : []));
        expect(new Set(ids).size).toBe(ids.length);
        for (const needed of [j.needs ?? []].flat()) expect(Object.keys(wf.jobs)).toContain(needed);
      }
    },
  );

  it('use only allow-listed actions at pinned major versions, with inputs those actions have', () => {
    for (const { file, step } of allSteps()) {
      if (!step.uses) continue;
      const inputs = ALLOWED_ACTIONS[step.uses];
      expect({ file, uses: step.uses, allowed: inputs !== undefined }).toEqual({
        file,
        uses: step.uses,
        allowed: true,
      });
      for (const input of Object.keys(step.with ?? {})) {
        expect({ file, uses: step.uses, input, known: inputs?.includes(input) }).toEqual({
          file,
          uses: step.uses,
          input,
          known: true,
        });
      }
    }
  });

  it('run scripts that bash can parse', () => {
    for (const { file, job: jobName, step } of allSteps()) {
      if (!step.run) continue;
      const result = spawnSync('bash', ['-n'], { input: runScriptText(step.run), encoding: 'utf8' });
      expect({ file, job: jobName, step: step.name ?? step.run, stderr: result.stderr }).toEqual({
        file,
        job: jobName,
        step: step.name ?? step.run,
        stderr: '',
      });
    }
  });

  itWhen(hasCommand('shellcheck'), 'shellcheck is not installed (apt-get install shellcheck)')(
    'run scripts that shellcheck accepts',
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graphmill-workflow-sh-'));
      try {
        allSteps().forEach(({ file, job: jobName, step }, i) => {
          if (!step.run) return;
          const script = path.join(dir, `${file}-${jobName}-${i}.sh`);
          fs.writeFileSync(script, runScriptText(step.run));
          const result = spawnSync('shellcheck', ['-s', 'bash', script], { encoding: 'utf8' });
          expect({ script: path.basename(script), findings: result.stdout }).toEqual({
            script: path.basename(script),
            findings: '',
          });
        });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('refer only to repository scripts that exist and are executable', () => {
    const referenced = new Set(
      allSteps().flatMap(({ step }) =>
        [...(step.run ?? '').matchAll(/\b(?:infrastructure|scripts)\/[\w.-]+\.sh\b/g)].map((m) => m[0]),
      ),
    );
    expect(referenced.size).toBeGreaterThan(3);
    for (const script of referenced) {
      const stat = fs.statSync(path.join(REPO_ROOT, script));
      expect({ script, executable: (stat.mode & 0o111) !== 0 }).toEqual({ script, executable: true });
    }
  });

  it('run only npm scripts that package.json defines', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const used = new Set(
      allSteps().flatMap(({ step }) =>
        [...(step.run ?? '').matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1] ?? ''),
      ),
    );
    expect([...used].sort()).toEqual(['lint', 'test:contracts', 'test:int', 'test:unit', 'typecheck']);
    for (const script of used) {
      expect({ script, defined: script in pkg.scripts }).toEqual({ script, defined: true });
    }
  });

  it('use repository variables that docs/deployment.md documents, and no secrets', () => {
    const docs = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'deployment.md'), 'utf8');
    for (const file of workflowFiles) {
      const text = fs.readFileSync(path.join(WORKFLOW_DIR, file), 'utf8');
      for (const [, variable] of text.matchAll(/\bvars\.([A-Z0-9_]+)/g)) {
        expect({ file, variable, documented: docs.includes(`\`${variable ?? ''}\``) }).toEqual({
          file,
          variable,
          documented: true,
        });
      }
      expect(text).not.toMatch(/secrets\./); // WIF: no service-account keys stored in GitHub
    }
  });

  itWhen(hasCommand('yamllint'), 'yamllint is not installed (apt-get install yamllint)')(
    'pass yamllint',
    () => {
      const result = spawnSync(
        'yamllint',
        ['-c', '.github/yamllint.yml', '-f', 'parsable', '.github/workflows'],
        {
          cwd: REPO_ROOT,
          encoding: 'utf8',
        },
      );
      expect(result.stdout).toBe('');
      expect(result.status).toBe(0);
    },
  );
});

describe('ci.yml', () => {
  it('runs on push and pull request', () => {
    expect(Object.keys(workflow('ci.yml').on).sort()).toEqual(['pull_request', 'push']);
  });

  it('checks: Node 24, npm ci, lint, typecheck, unit tests', () => {
    const checks = job('ci.yml', 'checks');
    const setupNode = checks.steps.find((s) => s.uses === 'actions/setup-node@v4');
    expect(setupNode?.with?.['node-version']).toBe(24);
    const order = ['npm ci', 'npm run lint', 'npm run typecheck', 'npm run test:unit'].map((cmd) =>
      stepIndex(checks, (s) => s.run?.trim() === cmd),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('integration: a neo4j:5.26-community service on 7687, NEO4J_* set, npm run test:int', () => {
    const integration = job('ci.yml', 'integration');
    const neo4j = integration.services?.['neo4j'];
    expect(neo4j?.image).toBe('neo4j:5.26-community');
    expect(neo4j?.ports).toContain('7687:7687');
    const auth = neo4j?.env?.['NEO4J_AUTH'] ?? '';
    expect(auth).toMatch(/^neo4j\/.{8,}$/); // Neo4j 5 wants at least 8 characters
    expect(integration.env?.['NEO4J_URI']).toBe('bolt://localhost:7687');
    expect(integration.env?.['NEO4J_USERNAME']).toBe('neo4j');
    expect(integration.env?.['NEO4J_PASSWORD']).toBe(auth.slice('neo4j/'.length));
    expect(neo4j?.options).toMatch(/--health-cmd/);
    expect(runs(integration)).toMatch(/npm run test:int\b/);
  });

  it('contracts: gcloud with the emulator components, started by scripts/emulators.sh, its hosts required', () => {
    const contracts = job('ci.yml', 'contracts');
    const gcloud = contracts.steps.find((s) => s.uses === 'google-github-actions/setup-gcloud@v2');
    const components = ((gcloud?.with?.['install_components'] as string | undefined) ?? '').split(',');
    expect(components.sort()).toEqual(['beta', 'cloud-firestore-emulator', 'pubsub-emulator']);
    const at = (re: RegExp) => stepIndex(contracts, (s) => re.test(s.run ?? ''));
    const start = at(/scripts\/emulators\.sh start/);
    const startRun = contracts.steps[start]?.run ?? '';
    // Both hosts must be printed (else the suites would skip), and they become the later steps' environment.
    expect(startRun).toMatch(/grep -q '\^FIRESTORE_EMULATOR_HOST=/);
    expect(startRun).toMatch(/grep -q '\^PUBSUB_EMULATOR_HOST=/);
    expect(startRun).toMatch(/>> "\$GITHUB_ENV"/);
    const test = at(/npm run test:contracts/);
    const stop = at(/scripts\/emulators\.sh stop/);
    expect(start).toBeGreaterThan(gcloud ? contracts.steps.indexOf(gcloud) : Infinity);
    expect(test).toBeGreaterThan(start);
    expect(stop).toBeGreaterThan(test);
    expect(contracts.steps[stop]?.if).toBe('always()');
    // The script logs under .graphmill/emulators: a dot directory, which upload-artifact skips unless told.
    const upload = contracts.steps.find((s) => s.uses === 'actions/upload-artifact@v4');
    expect(upload?.with?.['path']).toBe('.graphmill/emulators/*.log');
    expect(upload?.with?.['include-hidden-files']).toBe(true);
  });
});

describe('drift.yml', () => {
  const wf = workflow('drift.yml');
  const drift = job('drift.yml', 'drift');

  it('runs daily and on demand', () => {
    expect(wf.on['schedule']).toEqual([{ cron: expect.stringMatching(/^\d+ \d+ \* \* \*$/) as unknown }]);
    expect(wf.on).toHaveProperty('workflow_dispatch');
  });

  it('authenticates with Workload Identity Federation and may write issues', () => {
    expect(wf.permissions).toMatchObject({ 'id-token': 'write', issues: 'write' });
    const auth = drift.steps.find((s) => s.uses === 'google-github-actions/auth@v2');
    expect(auth?.with?.['workload_identity_provider']).toMatch(/vars\.GCP_WORKLOAD_IDENTITY_PROVIDER/);
    expect(auth?.with).not.toHaveProperty('credentials_json');
    const checkout = drift.steps.find((s) => s.uses === 'actions/checkout@v4');
    expect(checkout?.with?.['fetch-depth']).toBe(0);
  });

  it('runs the drift script, then opens or updates one issue labelled function-drift', () => {
    const script = runs(drift);
    expect(script).toMatch(/scripts\/check-function-drift\.sh -v/);
    expect(script).toMatch(/gh issue list --label function-drift --state open/);
    expect(script).toMatch(/gh issue edit "\$number"/);
    expect(script).toMatch(/gh issue create [^\n]*--label function-drift/);
    expect(script).toMatch(/gh label create function-drift/);
  });
});

describe('deploy.yml', () => {
  const wf = workflow('deploy.yml');
  const deploy = job('deploy.yml', 'deploy');

  it('runs on push to main and on demand', () => {
    expect(wf.on['push']).toEqual({ branches: ['main'] });
    expect(wf.on).toHaveProperty('workflow_dispatch');
    expect(wf.permissions).toMatchObject({ 'id-token': 'write', contents: 'read' });
  });

  it('authenticates with Workload Identity Federation from repository variables, then sets up gcloud', () => {
    const auth = stepIndex(deploy, (s) => s.uses === 'google-github-actions/auth@v2');
    const gcloud = stepIndex(deploy, (s) => s.uses === 'google-github-actions/setup-gcloud@v2');
    expect(auth).toBeGreaterThan(-1);
    expect(gcloud).toBeGreaterThan(auth);
    const authStep = deploy.steps[auth];
    expect(authStep?.with?.['workload_identity_provider']).toBe('${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}');
    expect(authStep?.with?.['service_account']).toBe('${{ vars.GCP_DEPLOY_SERVICE_ACCOUNT }}');
  });

  it('records the deployed versions, deploys, checks health with an identity token, and rolls back on failure', () => {
    const record = stepIndex(deploy, (s) => /infrastructure\/deployed-versions\.sh/.test(s.run ?? ''));
    const deployStep = stepIndex(deploy, (s) => /infrastructure\/deploy\.sh/.test(s.run ?? ''));
    const token = stepIndex(deploy, (s) => s.with?.['token_format'] === 'id_token');
    const health = stepIndex(deploy, (s) => /Authorization: Bearer \$ID_TOKEN/.test(s.run ?? ''));
    const rollback = stepIndex(deploy, (s) => /infrastructure\/rollback\.sh/.test(s.run ?? ''));
    expect([record, deployStep, token, health, rollback].every((i) => i >= 0)).toBe(true);
    expect(record).toBeLessThan(deployStep);
    expect(deployStep).toBeLessThan(token);
    expect(token).toBeLessThan(health);
    expect(health).toBeLessThan(rollback);
    expect(deploy.steps[token]?.with?.['id_token_audience']).toMatch(/steps\.health-url\.outputs\.url/);
    expect(deploy.steps[rollback]?.if).toBe('failure()');
    const checkout = deploy.steps.find((s) => s.uses === 'actions/checkout@v4');
    expect(checkout?.with?.['fetch-depth']).toBe(0); // the previous commit must be there to roll back to
  });
});
