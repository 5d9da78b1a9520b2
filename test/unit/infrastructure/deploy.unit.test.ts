import { CONFIG_VARIABLES, parseConfig } from '../../../shared/config';
/**
 * infrastructure/deploy.sh against the fake gcloud: every function's flags, the wiring after a
 * deploy, dry run == real run, and the refusals (unknown function, dirty tree, missing NEO4J_URI).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BUILD_TIME,
  DEPLOY_ENV,
  FUNCTION_NAMES,
  PROJECT,
  REGION,
  callsStartingWith,
  createSandbox,
  flagsOf,
  git,
  isReadOnly,
  removeSandboxes,
  runScript,
  splitShellWords,
  type FunctionName,
  type Sandbox,
} from './harness';

const DEPLOY = 'infrastructure/deploy.sh';
const RUNTIME_SA = `graphmill-runtime@${PROJECT}.iam.gserviceaccount.com`;
const INVOKER_SA = `graphmill-scheduler@${PROJECT}.iam.gserviceaccount.com`;

/** The catalogue as the team fixed it (independent of lib.sh, which it checks). */
const EXPECTED: Record<
  FunctionName,
  {
    trigger: string; // 'http' or the topic
    memory: string;
    timeout: string;
    concurrency: string;
    maxInstances: string;
    schedule?: string;
    job?: string;
  }
> = {
  orchestrate: { trigger: 'http', memory: '512Mi', timeout: '540s', concurrency: '8', maxInstances: '10' },
  ingestEvent: {
    trigger: 'ingest-requests',
    memory: '512Mi',
    timeout: '540s',
    concurrency: '1',
    maxInstances: '20',
  },
  phaseTransition: {
    trigger: 'phase-completions',
    memory: '256Mi',
    timeout: '60s',
    concurrency: '1',
    maxInstances: '10',
  },
  replayDeadLetters: {
    trigger: 'http',
    memory: '512Mi',
    timeout: '540s',
    concurrency: '1',
    maxInstances: '1',
    schedule: '*/15 * * * *',
    job: 'graphmill-replay-dead-letters',
  },
  health: { trigger: 'http', memory: '256Mi', timeout: '30s', concurrency: '1', maxInstances: '2' },
  watchdog: {
    trigger: 'http',
    memory: '256Mi',
    timeout: '60s',
    concurrency: '1',
    maxInstances: '1',
    schedule: '*/10 * * * *',
    job: 'graphmill-watchdog',
  },
  reconcile: {
    trigger: 'http',
    memory: '512Mi',
    timeout: '540s',
    concurrency: '1',
    maxInstances: '1',
    schedule: '0 * * * *',
    job: 'graphmill-reconcile',
  },
};

afterAll(removeSandboxes);

function setUpProject(): Sandbox {
  const sandbox = createSandbox();
  const setup = runScript(sandbox, 'infrastructure/setup.sh', ['--project', PROJECT]);
  expect(setup.status).toBe(0);
  return sandbox;
}

function deployCalls(calls: readonly string[]): Map<string, string> {
  return new Map(
    callsStartingWith(calls, ['gcloud', 'functions', 'deploy']).map((call) => [
      splitShellWords(call)[3] ?? '',
      call,
    ]),
  );
}

function envVarsOf(call: string): Record<string, string> {
  const value = flagsOf(call).get('set-env-vars');
  if (typeof value !== 'string') throw new Error(`no --set-env-vars in ${call}`);
  return Object.fromEntries(
    value.split(',').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
}

describe('deploy.sh: first deploy of every function', () => {
  let sandbox: Sandbox;
  let calls: string[];
  let deploys: Map<string, string>;
  let head: string;

  beforeAll(() => {
    sandbox = setUpProject();
    head = git(sandbox.repo, ['rev-parse', 'HEAD']);
    const result = runScript(sandbox, DEPLOY, ['--project', PROJECT], DEPLOY_ENV);
    expect(result.stderr).not.toMatch(/error:/);
    expect(result.status).toBe(0);
    calls = result.calls;
    deploys = deployCalls(calls);
  });

  it('deploys all seven functions', () => {
    expect([...deploys.keys()].sort()).toEqual([...FUNCTION_NAMES].sort());
  });

  it.each(FUNCTION_NAMES)(
    '%s: gen2, nodejs24, region, entry point, source, memory, timeout, concurrency, max instances',
    (name) => {
      const call = deploys.get(name) ?? '';
      const flags = flagsOf(call);
      const expected = EXPECTED[name];
      expect(flags.get('gen2')).toBe(true);
      expect(flags.get('runtime')).toBe('nodejs24');
      expect(flags.get('region')).toBe(REGION);
      expect(flags.get('project')).toBe(PROJECT);
      expect(flags.get('entry-point')).toBe(name);
      expect(flags.get('source')).toBe(sandbox.repo);
      expect(flags.get('memory')).toBe(expected.memory);
      expect(flags.get('timeout')).toBe(expected.timeout);
      expect(flags.get('concurrency')).toBe(expected.concurrency);
      expect(flags.get('max-instances')).toBe(expected.maxInstances);
      expect(flags.get('service-account')).toBe(RUNTIME_SA);
      if (expected.concurrency !== '1') expect(flags.get('cpu')).toBe('1');
    },
  );

  it.each(FUNCTION_NAMES)('%s: its trigger and retry setting', (name) => {
    const flags = flagsOf(deploys.get(name) ?? '');
    const trigger = EXPECTED[name].trigger;
    if (trigger === 'http') {
      expect(flags.get('trigger-http')).toBe(true);
      expect(flags.get('no-allow-unauthenticated')).toBe(true);
      expect(flags.has('allow-unauthenticated')).toBe(false);
      expect(flags.has('retry')).toBe(false);
      expect(flags.has('trigger-topic')).toBe(false);
    } else {
      expect(flags.get('trigger-topic')).toBe(trigger);
      expect(flags.get('retry')).toBe(true);
      expect(flags.get('trigger-service-account')).toBe(INVOKER_SA);
      expect(flags.has('trigger-http')).toBe(false);
    }
  });

  it.each(FUNCTION_NAMES)('%s: labels with the git sha and the environment of the team contract', (name) => {
    const call = deploys.get(name) ?? '';
    expect(flagsOf(call).get('update-labels')).toBe(`git-sha=${head.slice(0, 12)},app=graphmill`);
    expect(envVarsOf(call)).toEqual({
      GRAPHMILL_MODE: 'gcp',
      GOOGLE_CLOUD_PROJECT: PROJECT,
      NEO4J_URI: DEPLOY_ENV.NEO4J_URI,
      NEO4J_USERNAME: 'neo4j',
      NEO4J_PASSWORD_SECRET: 'neo4j-password',
      SLACK_WEBHOOK_SECRET: 'slack-webhook-url',
      BIGQUERY_DATASET: 'graphmill',
      INGEST_TOPIC: 'ingest-requests',
      PHASE_TOPIC: 'phase-completions',
      GRAPHMILL_VERSION: head,
      GRAPHMILL_BUILD_TIME: BUILD_TIME,
      FUNCTION_TIMEOUT_SECONDS: EXPECTED[name].timeout.replace(/s$/, ''),
    });
  });

  it.each(FUNCTION_NAMES)(
    '%s: the deployed environment is a valid graphmill configuration on Cloud Run',
    (name) => {
      const env = { ...envVarsOf(deploys.get(name) ?? ''), K_SERVICE: name.toLowerCase() };
      for (const key of Object.keys(env)) expect(CONFIG_VARIABLES).toContain(key);
      const config = parseConfig(env);
      expect(config).toMatchObject({
        mode: 'gcp',
        secrets: {
          backend: 'secret-manager',
          neo4jPasswordSecret: 'neo4j-password',
          slackWebhookSecret: 'slack-webhook-url',
        },
        adapters: { statusStore: 'firestore', completionLedgers: 'gcp', eventBus: 'pubsub' },
        log: { format: 'json' },
      });
      expect(config.leaseMs).toBeGreaterThan(Number(EXPECTED[name].timeout.replace(/s$/, '')) * 1000);
    },
  );

  it('passes secret names, never secret values: no --set-secrets, no password in the environment', () => {
    for (const call of deploys.values()) {
      expect(flagsOf(call).has('set-secrets')).toBe(false);
      expect(Object.keys(envVarsOf(call))).not.toContain('NEO4J_PASSWORD');
    }
  });

  it('lets the invoker account call the scheduled and the event functions, nobody else by default', () => {
    const grants = callsStartingWith(calls, ['gcloud', 'run', 'services', 'add-iam-policy-binding']).map(
      (call) =>
        `${splitShellWords(call)[4] ?? ''} ${String(flagsOf(call).get('member'))} ${String(flagsOf(call).get('role'))}`,
    );
    expect(grants.sort()).toEqual(
      ['ingestevent', 'phasetransition', 'replaydeadletters', 'watchdog', 'reconcile']
        .map((service) => `${service} serviceAccount:${INVOKER_SA} roles/run.invoker`)
        .sort(),
    );
  });

  it('creates the three scheduler jobs: POST with an OIDC token of the invoker account for the function URL', () => {
    const jobs = callsStartingWith(calls, ['gcloud', 'scheduler', 'jobs', 'create', 'http']);
    expect(jobs).toHaveLength(3);
    for (const name of ['replayDeadLetters', 'watchdog', 'reconcile'] as const) {
      const expected = EXPECTED[name];
      const call = jobs.find((c) => splitShellWords(c)[5] === expected.job) ?? '';
      const flags = flagsOf(call);
      const uri = `https://${name.toLowerCase()}-fake-ew.a.run.app`;
      expect(flags.get('schedule')).toBe(expected.schedule);
      expect(flags.get('location')).toBe(REGION);
      expect(flags.get('http-method')).toBe('POST');
      expect(flags.get('uri')).toBe(uri);
      expect(flags.get('oidc-service-account-email')).toBe(INVOKER_SA);
      expect(flags.get('oidc-token-audience')).toBe(uri);
    }
  });

  it('gives the Eventarc subscriptions a dead-letter topic after 10 delivery attempts', () => {
    const updates = callsStartingWith(calls, ['gcloud', 'pubsub', 'subscriptions', 'update']);
    expect(updates).toHaveLength(2);
    const byTopic = updates.map((call) => [
      flagsOf(call).get('dead-letter-topic'),
      flagsOf(call).get('max-delivery-attempts'),
    ]);
    expect(byTopic.sort()).toEqual([
      [`projects/${PROJECT}/topics/ingest-requests-dlq`, '10'],
      [`projects/${PROJECT}/topics/phase-completions-dlq`, '10'],
    ]);
    for (const call of updates)
      expect(splitShellWords(call)[4]).toMatch(/^projects\/demo-proj\/subscriptions\/eventarc-/);
  });

  it('a redeploy changes only the functions: the wiring is in place', () => {
    const again = runScript(sandbox, DEPLOY, ['--project', PROJECT], DEPLOY_ENV);
    expect(again.status).toBe(0);
    const changes = again.calls.filter((call) => !isReadOnly(call));
    expect(changes.map((call) => splitShellWords(call).slice(0, 4).join(' '))).toEqual(
      FUNCTION_NAMES.map((name) => `gcloud functions deploy ${name}`),
    );
  });

  it('a dry run of the redeploy prints exactly the commands the real redeploy issued, and changes nothing', () => {
    const dry = runScript(sandbox, DEPLOY, ['--project', PROJECT, '--dry-run'], DEPLOY_ENV);
    const real = runScript(sandbox, DEPLOY, ['--project', PROJECT], DEPLOY_ENV);
    expect(dry.status).toBe(0);
    expect(real.status).toBe(0);
    expect(dry.calls.filter((call) => !isReadOnly(call))).toEqual([]);
    expect(dry.printed).toEqual(real.printed);
    expect(real.calls.filter((call) => !isReadOnly(call))).toEqual(dry.printed);
    expect(real.calls.filter(isReadOnly)).toEqual(dry.calls);
  });
});

describe('deploy.sh: choices and refusals', () => {
  let sandbox: Sandbox;
  beforeAll(() => {
    sandbox = setUpProject();
  });

  it('deploys only the functions named', () => {
    const result = runScript(
      sandbox,
      DEPLOY,
      ['--project', PROJECT, '--dry-run', 'health', 'watchdog'],
      DEPLOY_ENV,
    );
    expect(result.status).toBe(0);
    expect(result.printed.map((call) => splitShellWords(call)[3])).toEqual(['health', 'watchdog']);
  });

  it('a dry run of a first deploy prints the deploys and says the wiring follows them', () => {
    const result = runScript(sandbox, DEPLOY, ['--project', PROJECT, '--dry-run', 'watchdog'], DEPLOY_ENV);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/watchdog is not deployed yet: a real run wires it/);
    expect(result.calls.filter((call) => !isReadOnly(call))).toEqual([]);
  });

  it('refuses an unknown function before any gcloud call', () => {
    const result = runScript(sandbox, DEPLOY, ['--project', PROJECT, 'orchestrat'], DEPLOY_ENV);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/unknown function: orchestrat/);
    expect(result.calls).toEqual([]);
  });

  it('refuses to deploy without NEO4J_URI', () => {
    const result = runScript(sandbox, DEPLOY, ['--project', PROJECT], { GRAPHMILL_BUILD_TIME: BUILD_TIME });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/NEO4J_URI is required/);
    expect(callsStartingWith(result.calls, ['gcloud', 'functions', 'deploy'])).toEqual([]);
  });

  it('refuses uncommitted changes to uploaded files, unless --allow-dirty (then the label says so)', () => {
    const file = path.join(sandbox.repo, 'functions', 'health', 'index.ts');
    fs.appendFileSync(file, '// not committed\n');
    try {
      const refused = runScript(sandbox, DEPLOY, ['--project', PROJECT, 'health'], DEPLOY_ENV);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toMatch(/uncommitted changes/);
      expect(callsStartingWith(refused.calls, ['gcloud', 'functions', 'deploy'])).toEqual([]);

      const allowed = runScript(
        sandbox,
        DEPLOY,
        ['--project', PROJECT, '--dry-run', '--allow-dirty', 'health'],
        DEPLOY_ENV,
      );
      expect(allowed.status).toBe(0);
      expect(flagsOf(allowed.printed[0] ?? '').get('update-labels')).toMatch(
        /^git-sha=[0-9a-f]{12}-dirty,app=graphmill$/,
      );
    } finally {
      git(sandbox.repo, ['checkout', '--', 'functions/health/index.ts']);
    }
  });

  it('ignores uncommitted changes outside the uploaded files', () => {
    fs.writeFileSync(path.join(sandbox.repo, 'NOTES.md'), 'scratch\n');
    const result = runScript(sandbox, DEPLOY, ['--project', PROJECT, '--dry-run', 'health'], DEPLOY_ENV);
    fs.rmSync(path.join(sandbox.repo, 'NOTES.md'));
    expect(result.status).toBe(0);
  });

  it('asks for setup.sh when the runtime account does not exist', () => {
    const fresh = createSandbox();
    const result = runScript(fresh, DEPLOY, ['--project', PROJECT], DEPLOY_ENV);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/run infrastructure\/setup\.sh first/);
    expect(callsStartingWith(result.calls, ['gcloud', 'functions', 'deploy'])).toEqual([]);
  });

  it('lets the deploy account call health and the configured clients call orchestrate', () => {
    const deployer = `deployer@${PROJECT}.iam.gserviceaccount.com`;
    const result = runScript(sandbox, DEPLOY, ['--project', PROJECT, 'health', 'orchestrate'], {
      ...DEPLOY_ENV,
      DEPLOYER_SA: deployer,
      ORCHESTRATE_INVOKERS: 'serviceAccount:client@other.iam.gserviceaccount.com,group:ops@example.com',
    });
    expect(result.status).toBe(0);
    const grants = callsStartingWith(result.calls, [
      'gcloud',
      'run',
      'services',
      'add-iam-policy-binding',
    ]).map((call) => `${splitShellWords(call)[4] ?? ''} ${String(flagsOf(call).get('member'))}`);
    expect(grants).toEqual([
      `health serviceAccount:${deployer}`,
      'orchestrate serviceAccount:client@other.iam.gserviceaccount.com',
      'orchestrate group:ops@example.com',
    ]);
  });
});
