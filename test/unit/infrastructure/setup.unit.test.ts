/**
 * infrastructure/setup.sh against the fake gcloud / bq: what a first run creates, that a dry run
 * issues exactly the changes of a real run, and that a run on a complete project only reads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DEPLOY_ENV,
  PROJECT,
  REPO_ROOT,
  callsStartingWith,
  createSandbox,
  flagValues,
  flagsOf,
  isReadOnly,
  removeSandboxes,
  runScript,
  splitShellWords,
  type Sandbox,
} from './harness';

const SETUP = 'infrastructure/setup.sh';
const RUNTIME_SA = `serviceAccount:graphmill-runtime@${PROJECT}.iam.gserviceaccount.com`;
const PUBSUB_AGENT = 'serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com';

afterAll(removeSandboxes);

function changes(calls: readonly string[]): string[] {
  return calls.filter((call) => !isReadOnly(call));
}

function setupOnEmptyProject(extraEnv: Record<string, string> = {}) {
  const sandbox = createSandbox();
  const result = runScript(sandbox, SETUP, ['--project', PROJECT], extraEnv);
  expect(result.stderr).not.toMatch(/error:/);
  expect(result.status).toBe(0);
  return { sandbox, result };
}

describe('setup.sh on an empty project', () => {
  let sandbox: Sandbox;
  let calls: string[];

  beforeAll(() => {
    const run = setupOnEmptyProject();
    sandbox = run.sandbox;
    calls = run.result.calls;
  });

  it('enables the APIs the functions, triggers and scheduler need', () => {
    const [enable] = callsStartingWith(calls, ['gcloud', 'services', 'enable']);
    expect(enable).toBeDefined();
    const apis = splitShellWords(enable ?? '').filter((w) => w.endsWith('.googleapis.com'));
    expect(apis).toEqual(
      expect.arrayContaining([
        'cloudfunctions.googleapis.com',
        'run.googleapis.com',
        'cloudbuild.googleapis.com',
        'eventarc.googleapis.com',
        'pubsub.googleapis.com',
        'firestore.googleapis.com',
        'bigquery.googleapis.com',
        'secretmanager.googleapis.com',
        'cloudscheduler.googleapis.com',
        'monitoring.googleapis.com',
        'logging.googleapis.com',
      ]),
    );
  });

  it('creates the runtime and the scheduler service accounts', () => {
    const created = callsStartingWith(calls, ['gcloud', 'iam', 'service-accounts', 'create']).map(
      (call) => splitShellWords(call)[4],
    );
    expect(created).toEqual(['graphmill-runtime', 'graphmill-scheduler']);
  });

  it('creates the two secrets without any value', () => {
    const created = callsStartingWith(calls, ['gcloud', 'secrets', 'create']).map(
      (call) => splitShellWords(call)[3],
    );
    expect(created).toEqual(['neo4j-password', 'slack-webhook-url']);
    expect(calls.filter((call) => /versions add|--data-file/.test(call))).toEqual([]);
  });

  it('creates the topics, their dead-letter topics and a pull subscription on each dead-letter topic', () => {
    const topics = callsStartingWith(calls, ['gcloud', 'pubsub', 'topics', 'create']).map(
      (call) => splitShellWords(call)[4],
    );
    expect(topics.sort()).toEqual(
      ['ingest-requests', 'ingest-requests-dlq', 'phase-completions', 'phase-completions-dlq'].sort(),
    );
    const subscriptions = callsStartingWith(calls, ['gcloud', 'pubsub', 'subscriptions', 'create']);
    expect(subscriptions.map((call) => [splitShellWords(call)[4], flagsOf(call).get('topic')])).toEqual([
      ['ingest-requests-dlq-sub', 'ingest-requests-dlq'],
      ['phase-completions-dlq-sub', 'phase-completions-dlq'],
    ]);
    for (const call of subscriptions) {
      expect(flagsOf(call).get('message-retention-duration')).toBe('7d');
      expect(flagsOf(call).get('expiration-period')).toBe('never');
    }
  });

  it('creates the BigQuery dataset and both tables from the schema files', () => {
    const [dataset] = callsStartingWith(calls, [
      'bq',
      `--project_id=${PROJECT}`,
      '--location=europe-west1',
      'mk',
    ]);
    expect(dataset).toMatch(/--dataset .*demo-proj:graphmill$/);
    const tables = calls.filter((call) => call.includes(' mk --table '));
    expect(tables).toHaveLength(2);
    const completions = tables.find((call) => call.endsWith('demo-proj:graphmill.completions')) ?? '';
    expect(flagsOf(completions).get('time_partitioning_type')).toBe('DAY');
    expect(flagsOf(completions).get('time_partitioning_field')).toBe('occurred_at');
    expect(flagsOf(completions).get('clustering_fields')).toBe('document_id');
    expect(flagsOf(completions).get('schema')).toMatch(/infrastructure\/bigquery\/completions\.json$/);
    const status = tables.find((call) => call.endsWith('demo-proj:graphmill.document_status')) ?? '';
    expect(flagsOf(status).get('schema')).toMatch(/infrastructure\/bigquery\/document_status\.json$/);
  });

  it('creates the Native-mode database and one composite index per definition', () => {
    const [database] = callsStartingWith(calls, ['gcloud', 'firestore', 'databases', 'create']);
    expect(flagsOf(database ?? '').get('type')).toBe('firestore-native');
    const indexes = callsStartingWith(calls, ['gcloud', 'firestore', 'indexes', 'composite', 'create']).map(
      (call) =>
        `${String(flagsOf(call).get('collection-group'))}(${flagValues(call, 'field-config').join(' ')})`,
    );
    const definitions = (
      JSON.parse(
        fs.readFileSync(path.join(REPO_ROOT, 'infrastructure', 'firestore.indexes.json'), 'utf8'),
      ) as {
        indexes: { collectionGroup: string; fields: { fieldPath: string; order: string }[] }[];
      }
    ).indexes.map(
      (i) =>
        `${i.collectionGroup}(${i.fields.map((f) => `field-path=${f.fieldPath},order=${f.order.toLowerCase()}`).join(' ')})`,
    );
    expect(definitions.length).toBeGreaterThan(0);
    expect(indexes).toEqual(definitions);
  });

  it('grants the runtime account least-privilege roles, scoped to the topics and the two secrets', () => {
    const bindings = calls
      .filter((call) => call.includes('add-iam-policy-binding') && call.includes(`--member=${RUNTIME_SA}`))
      .map((call) => {
        const words = splitShellWords(call).filter((w) => !w.startsWith('-'));
        return `${words.slice(1, -1).join(' ')} ${words[words.length - 1] ?? ''} ${String(flagsOf(call).get('role'))}`;
      });
    expect(bindings.sort()).toEqual(
      [
        'projects add-iam-policy-binding demo-proj roles/datastore.user',
        'projects add-iam-policy-binding demo-proj roles/bigquery.dataEditor',
        'projects add-iam-policy-binding demo-proj roles/bigquery.jobUser',
        'projects add-iam-policy-binding demo-proj roles/logging.logWriter',
        'projects add-iam-policy-binding demo-proj roles/monitoring.metricWriter',
        'pubsub topics add-iam-policy-binding ingest-requests roles/pubsub.publisher',
        'pubsub topics add-iam-policy-binding ingest-requests roles/pubsub.viewer',
        'pubsub topics add-iam-policy-binding phase-completions roles/pubsub.publisher',
        'pubsub topics add-iam-policy-binding phase-completions roles/pubsub.viewer',
        'secrets add-iam-policy-binding neo4j-password roles/secretmanager.secretAccessor',
        'secrets add-iam-policy-binding slack-webhook-url roles/secretmanager.secretAccessor',
      ].sort(),
    );
    // No project-wide secret access, no publishing to the dead-letter topics.
    expect(calls.filter((c) => c.includes('projects add-iam') && c.includes('secretmanager'))).toEqual([]);
  });

  it('lets the Pub/Sub service agent publish to the dead-letter topics', () => {
    const grants = calls
      .filter(
        (call) => call.includes('topics add-iam-policy-binding') && call.includes(`--member=${PUBSUB_AGENT}`),
      )
      .map((call) => `${splitShellWords(call)[4] ?? ''} ${String(flagsOf(call).get('role'))}`);
    expect(grants).toEqual([
      'ingest-requests-dlq roles/pubsub.publisher',
      'phase-completions-dlq roles/pubsub.publisher',
    ]);
  });

  it('creates the four log-based metrics, the three alert policies and the dashboard from their files', () => {
    const metrics = callsStartingWith(calls, ['gcloud', 'logging', 'metrics', 'create']).map(
      (call) => splitShellWords(call)[4],
    );
    expect(metrics.sort()).toEqual([
      'graphmill_dead_letters',
      'graphmill_documents_failed',
      'graphmill_stage_duration',
      'graphmill_tracking_critical',
    ]);
    expect(callsStartingWith(calls, ['gcloud', 'alpha', 'monitoring', 'policies', 'create'])).toHaveLength(3);
    expect(callsStartingWith(calls, ['gcloud', 'monitoring', 'dashboards', 'create'])).toHaveLength(1);
  });

  it('passes --project explicitly on every gcloud call', () => {
    for (const call of calls.filter((c) => c.startsWith('gcloud '))) {
      const words = splitShellWords(call);
      const explicit = flagsOf(call).get('project') === PROJECT || words[1] === 'projects';
      const scopedByName = words.some((w) => w.startsWith(`projects/${PROJECT}/`) || w.startsWith('gs://'));
      expect({ call, ok: explicit || scopedByName }).toEqual({ call, ok: true });
    }
  });

  it('a second run on the same project only reads, and exits 0', () => {
    const second = runScript(sandbox, SETUP, ['--project', PROJECT]);
    expect(second.status).toBe(0);
    expect(changes(second.calls)).toEqual([]);
    expect(second.printed).toEqual([]);
  });
});

describe('setup.sh --dry-run', () => {
  it('prints exactly the changes a real run makes, and takes the same decisions from the same reads', () => {
    const sandbox = createSandbox();
    const dry = runScript(sandbox, SETUP, ['--project', PROJECT, '--dry-run']);
    expect(dry.status).toBe(0);
    expect(changes(dry.calls)).toEqual([]); // nothing changed in dry run
    expect(dry.printed.length).toBeGreaterThan(30);

    const real = runScript(sandbox, SETUP, ['--project', PROJECT]);
    expect(real.status).toBe(0);
    expect(real.printed).toEqual(dry.printed);
    expect(changes(real.calls)).toEqual(dry.printed);
    expect(real.calls.filter(isReadOnly)).toEqual(dry.calls);
  });

  it('on a project where everything exists, prints nothing to change', () => {
    const { sandbox } = setupOnEmptyProject();
    const dry = runScript(sandbox, SETUP, ['--project', PROJECT, '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.printed).toEqual([]);
  });
});

describe('setup.sh after a deploy (everything exists, functions included)', () => {
  it('only reads, and exits 0', () => {
    const { sandbox } = setupOnEmptyProject();
    const deploy = runScript(sandbox, 'infrastructure/deploy.sh', ['--project', PROJECT], DEPLOY_ENV);
    expect(deploy.status).toBe(0);
    const again = runScript(sandbox, SETUP, ['--project', PROJECT]);
    expect(again.status).toBe(0);
    expect(changes(again.calls)).toEqual([]);
    // ... and it did look at the deployed functions' wiring
    expect(callsStartingWith(again.calls, ['gcloud', 'scheduler', 'jobs', 'describe'])).toHaveLength(3);
    expect(callsStartingWith(again.calls, ['gcloud', 'eventarc', 'triggers', 'describe'])).toHaveLength(2);
  });
});

describe('setup.sh error handling', () => {
  it('stops on a permission error instead of taking it for "not found" (no create follows)', () => {
    const sandbox = createSandbox();
    const result = runScript(sandbox, SETUP, ['--project', PROJECT], {
      FAKE_GCP_FAIL_PATTERN: 'pubsub topics describe ingest-requests ',
      FAKE_GCP_FAIL_MESSAGE:
        'ERROR: (gcloud.pubsub.topics.describe) PERMISSION_DENIED: User not authorized to perform this action. (or it may not exist)',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/query failed: gcloud pubsub topics describe ingest-requests/);
    expect(result.stderr).toMatch(/PERMISSION_DENIED/);
    expect(callsStartingWith(result.calls, ['gcloud', 'pubsub', 'topics', 'create'])).toEqual([]);
  });

  it('accepts ALREADY_EXISTS from a create that raced with another run, and goes on', () => {
    const sandbox = createSandbox();
    // Another run created the topic between this run's describe (NOT_FOUND) and its create.
    const topics = path.join(sandbox.state, 'r', 'topic');
    fs.mkdirSync(topics, { recursive: true });
    fs.writeFileSync(
      path.join(topics, 'ingest-requests'),
      JSON.stringify({ name: `projects/${PROJECT}/topics/ingest-requests` }),
    );
    const result = runScript(sandbox, SETUP, ['--project', PROJECT], {
      FAKE_GCP_FAIL_PATTERN: 'pubsub topics describe ingest-requests ',
      FAKE_GCP_FAIL_MESSAGE:
        'ERROR: (gcloud.pubsub.topics.describe) NOT_FOUND: Resource not found (resource=ingest-requests).',
    });
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/ALREADY_EXISTS/);
    expect(result.stderr).toMatch(/created concurrently/);
    expect(callsStartingWith(result.calls, ['gcloud', 'monitoring', 'dashboards', 'create'])).toHaveLength(1);
  });

  it('fails on any other create error', () => {
    const sandbox = createSandbox();
    const result = runScript(sandbox, SETUP, ['--project', PROJECT], {
      FAKE_GCP_FAIL_PATTERN: 'pubsub topics create ingest-requests ',
      FAKE_GCP_FAIL_MESSAGE: 'ERROR: (gcloud.pubsub.topics.create) INVALID_ARGUMENT: bad label',
    });
    expect(result.status).not.toBe(0);
    expect(callsStartingWith(result.calls, ['gcloud', 'monitoring', 'dashboards', 'create'])).toEqual([]);
  });

  it('refuses to run without a project, before any call', () => {
    const sandbox = createSandbox();
    const result = runScript(sandbox, SETUP, []);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/no project/);
    expect(result.calls).toEqual([]);
  });

  it('prints its usage with --help', () => {
    const sandbox = createSandbox();
    const result = runScript(sandbox, SETUP, ['--help']);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/Usage: infrastructure\/setup\.sh --project PROJECT_ID/);
    expect(result.calls).toEqual([]);
  });
});

describe('setup.sh options', () => {
  it('grants read access on the configured source buckets, and the deploy account its roles', () => {
    const sandbox = createSandbox();
    for (const bucket of ['docs-in', 'archive'])
      fs.mkdirSync(path.join(sandbox.state, 'buckets', bucket), { recursive: true });
    const deployer = `deployer@${PROJECT}.iam.gserviceaccount.com`;
    const result = runScript(sandbox, SETUP, ['--project', PROJECT], {
      GCS_SOURCE_BUCKETS: 'docs-in,gs://archive',
      DEPLOYER_SA: deployer,
    });
    expect(result.status).toBe(0);
    const buckets = callsStartingWith(result.calls, [
      'gcloud',
      'storage',
      'buckets',
      'add-iam-policy-binding',
    ]);
    expect(
      buckets.map((c) => [splitShellWords(c)[4], flagsOf(c).get('role'), flagsOf(c).get('member')]),
    ).toEqual([
      ['gs://docs-in', 'roles/storage.objectViewer', RUNTIME_SA],
      ['gs://archive', 'roles/storage.objectViewer', RUNTIME_SA],
    ]);
    const deployerRoles = result.calls
      .filter(
        (c) => c.includes('add-iam-policy-binding') && c.includes(`--member=serviceAccount:${deployer}`),
      )
      .map((c) => String(flagsOf(c).get('role')));
    expect(deployerRoles).toEqual(
      expect.arrayContaining(['roles/cloudfunctions.developer', 'roles/iam.serviceAccountUser']),
    );
  });

  it('adds the columns a schema file gained to an existing table', () => {
    const { sandbox } = setupOnEmptyProject();
    const table = path.join(sandbox.state, 'bq', `${PROJECT}:graphmill.completions`);
    const stored = JSON.parse(fs.readFileSync(table, 'utf8')) as { schema: { fields: { name: string }[] } };
    stored.schema.fields = stored.schema.fields.filter((f) => f.name !== 'correlation_id');
    fs.writeFileSync(table, JSON.stringify(stored));

    const result = runScript(sandbox, SETUP, ['--project', PROJECT]);
    expect(result.status).toBe(0);
    expect(changes(result.calls)).toEqual([
      expect.stringMatching(
        /^bq --project_id=demo-proj update demo-proj:graphmill\.completions .*completions\.json$/,
      ),
    ]);
  });
});
