/**
 * Every operations script, and the fakes the tests use, is shellcheck-clean (the CI image installs
 * shellcheck; where it is missing the test says so instead of passing silently).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, hasCommand, itWhen } from './harness';

const scripts = [
  ...fs
    .readdirSync(path.join(REPO_ROOT, 'infrastructure'))
    .filter((f) => f.endsWith('.sh'))
    .map((f) => `infrastructure/${f}`),
  'scripts/check-function-drift.sh',
  'test/unit/infrastructure/fakes/gcloud',
  'test/unit/infrastructure/fakes/bq',
];

describe('shell scripts', () => {
  it('are the ones the tests expect', () => {
    expect(scripts).toEqual(
      expect.arrayContaining([
        'infrastructure/lib.sh',
        'infrastructure/wiring.sh',
        'infrastructure/setup.sh',
        'infrastructure/deploy.sh',
        'infrastructure/rollback.sh',
        'infrastructure/deployed-versions.sh',
      ]),
    );
  });

  it('that are run directly are executable and start with a bash shebang', () => {
    for (const script of scripts.filter((s) => !/(lib|wiring)\.sh$/.test(s))) {
      const file = path.join(REPO_ROOT, script);
      expect({ script, executable: (fs.statSync(file).mode & 0o111) !== 0 }).toEqual({
        script,
        executable: true,
      });
      expect(fs.readFileSync(file, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env bash');
    }
  });

  itWhen(hasCommand('shellcheck'), 'shellcheck is not installed (apt-get install shellcheck)')(
    'have no shellcheck findings',
    () => {
      const result = spawnSync('shellcheck', ['-x', ...scripts], { cwd: REPO_ROOT, encoding: 'utf8' });
      expect(result.stdout + result.stderr).toBe('');
      expect(result.status).toBe(0);
    },
  );
});
