/**
 * The commands the scripts issue exist, with flags gcloud accepts: every distinct gcloud command the
 * fake recorded (setup, deploy, the update paths) is replayed against the real Google Cloud CLI inside
 * a network namespace with no interface (`unshare -n`), with an empty configuration. gcloud parses
 * the command line before it looks for credentials, so an accepted command stops at "You do not
 * currently have an active account selected"; a misspelt flag stops earlier at "unrecognized
 * arguments". Nothing can leave the machine. Skipped (with the reason) without gcloud or unshare.
 *
 * bq is not covered: its wrapper asks for credentials before it parses flags; its flags were checked
 * against the bq sources (frontend/command_make.py, command_show.py, command_update.py).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DEPLOY_ENV,
  PROJECT,
  createSandbox,
  removeSandboxes,
  runScript,
  splitShellWords,
  itWhen,
} from './harness';

afterAll(removeSandboxes);

function realGcloud(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v gcloud'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

const gcloud = realGcloud();
const canIsolate = spawnSync('unshare', ['-n', 'true']).status === 0;
const reason = !gcloud
  ? 'the Google Cloud CLI (gcloud) is not installed'
  : 'cannot create a network namespace (unshare -n needs root), so gcloud is not run';

/** Recorded calls of every path the scripts can take, one per distinct command shape. */
function recordedCommandShapes(): string[][] {
  const sandbox = createSandbox();
  fs.mkdirSync(path.join(sandbox.state, 'buckets', 'docs-in'), { recursive: true });
  const env = {
    ...DEPLOY_ENV,
    GCS_SOURCE_BUCKETS: 'docs-in',
    DEPLOYER_SA: `deployer@${PROJECT}.iam.gserviceaccount.com`,
    ORCHESTRATE_INVOKERS: 'group:ops@example.com',
    ALERT_NOTIFICATION_CHANNELS: `projects/${PROJECT}/notificationChannels/123`,
  };
  const calls: string[] = [];
  const record = (script: string, args: string[]) => {
    const result = runScript(sandbox, script, ['--project', PROJECT, ...args], env);
    if (result.status !== 0) throw new Error(`${script} failed: ${result.stderr}`);
    calls.push(...result.calls);
  };
  record('infrastructure/setup.sh', []);
  record('infrastructure/deploy.sh', []);
  // The update paths: a scheduler job and a log metric that drifted from their definition.
  const job = path.join(sandbox.state, 'r', 'scheduler-job', 'graphmill-watchdog');
  fs.writeFileSync(
    job,
    JSON.stringify({ ...(JSON.parse(fs.readFileSync(job, 'utf8')) as object), schedule: '0 0 * * *' }),
  );
  const metric = path.join(sandbox.state, 'r', 'log-metric', 'graphmill_dead_letters');
  fs.writeFileSync(
    metric,
    JSON.stringify({ ...(JSON.parse(fs.readFileSync(metric, 'utf8')) as object), filter: 'x' }),
  );
  record('infrastructure/setup.sh', []);
  record('infrastructure/deployed-versions.sh', []);
  record('scripts/check-function-drift.sh', []);

  const shapes = new Map<string, string[]>();
  for (const call of calls.filter((c) => c.startsWith('gcloud '))) {
    const words = splitShellWords(call);
    const command = words.filter((w) => !w.startsWith('-')).slice(0, 5);
    const flags = words.filter((w) => w.startsWith('--')).map((w) => w.split('=')[0]);
    const key = `${command.slice(0, 4).join(' ')} ${[...new Set(flags)].sort().join(' ')}`;
    if (!shapes.has(key)) shapes.set(key, words.slice(1));
  }
  return [...shapes.values()];
}

function runIsolated(gcloudPath: string, args: string[], config: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('unshare', ['-n', gcloudPath, ...args], {
      env: {
        PATH: process.env['PATH'],
        HOME: config,
        CLOUDSDK_CONFIG: config,
        CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: '1',
        CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', () => resolve(output));
  });
}

describe('gcloud commands issued by the scripts', () => {
  itWhen(Boolean(gcloud) && canIsolate, reason)(
    'are accepted by the real gcloud argument parser',
    async () => {
      const shapes = recordedCommandShapes();
      expect(shapes.length).toBeGreaterThan(25);
      const config = fs.mkdtempSync(path.join(os.tmpdir(), 'graphmill-gcloud-config-'));
      try {
        const verdicts: { command: string; verdict: string }[] = [];
        const queue = [...shapes];
        const worker = async () => {
          for (let args = queue.shift(); args; args = queue.shift()) {
            const output = await runIsolated(gcloud ?? 'gcloud', args, config);
            const verdict = /do not currently have an active account/.test(output)
              ? 'parsed'
              : `rejected: ${output.split('\n').slice(0, 3).join(' ')}`;
            verdicts.push({ command: `gcloud ${args.join(' ')}`, verdict });
          }
        };
        await Promise.all([worker(), worker(), worker(), worker()]);
        expect(verdicts.filter((v) => v.verdict !== 'parsed')).toEqual([]);
      } finally {
        fs.rmSync(config, { recursive: true, force: true });
      }
    },
    240_000,
  );
});
