/**
 * .gcloudignore: what `gcloud functions deploy --source=.` uploads, asked of the real gcloud
 * (`gcloud meta list-files-for-upload`, a local command, run in a network namespace without any
 * interface) on a tree shaped like the repository. Skipped, with the reason, without gcloud or unshare.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, itWhen } from './harness';

const gcloud = spawnSync('sh', ['-c', 'command -v gcloud'], { encoding: 'utf8' });
const available = gcloud.status === 0 && spawnSync('unshare', ['-n', 'true']).status === 0;

const UPLOADED = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'functions/index.ts',
  'functions/orchestrate/index.ts',
  'functions/orchestrate/handler.ts',
  'shared/config/index.ts',
  'cli/main.ts',
  'scripts/neo4j/provision.ts',
];
const NOT_UPLOADED = [
  'node_modules/winston/index.js',
  'dist/functions/orchestrate/index.js',
  'test/unit/chunking/chunker.unit.test.ts',
  'bench/run.ts',
  '.graphmill/neo4j.env',
  'docs/deployment.md',
  'coverage/lcov.info',
  'infrastructure/setup.sh',
  'scripts/check-function-drift.sh',
  'scripts/neo4j/launcher/pom.xml',
  '.github/workflows/ci.yml',
  'gha-creds-0123456789abcdef.json',
  'README.md',
  'bin/graphmill.js',
];

describe('.gcloudignore', () => {
  it('ignores the credentials file the auth action writes into the workspace', () => {
    expect(fs.readFileSync(path.join(REPO_ROOT, '.gcloudignore'), 'utf8')).toMatch(/^gha-creds-\*\.json$/m);
  });

  itWhen(available, 'gcloud is not installed, or unshare -n is not allowed')(
    'uploads the sources tsc -p tsconfig.build.json compiles, and nothing else',
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graphmill-upload-'));
      const config = fs.mkdtempSync(path.join(os.tmpdir(), 'graphmill-gcloud-config-'));
      try {
        for (const file of [...UPLOADED, ...NOT_UPLOADED]) {
          fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
          fs.writeFileSync(path.join(dir, file), '');
        }
        fs.mkdirSync(path.join(dir, '.git'));
        fs.writeFileSync(path.join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
        fs.copyFileSync(path.join(REPO_ROOT, '.gcloudignore'), path.join(dir, '.gcloudignore'));
        const result = spawnSync(
          'unshare',
          ['-n', gcloud.stdout.trim(), 'meta', 'list-files-for-upload', dir],
          {
            encoding: 'utf8',
            env: {
              PATH: process.env['PATH'],
              HOME: config,
              CLOUDSDK_CONFIG: config,
              CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
              CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: '1',
              CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
            },
          },
        );
        expect(result.status).toBe(0);
        const uploaded = result.stdout.trim().split('\n').sort();
        expect(uploaded).toEqual([...UPLOADED].sort());
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.rmSync(config, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
