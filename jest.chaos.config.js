/**
 * The chaos suite (`npm run test:chaos`): faults, bad input, load and leaks against the real pipeline.
 * One worker: the suites measure latency and kill servers, so they must not compete for the 2 CPUs.
 * The Neo4j of the integration project's global setup serves the suites that do not kill their server;
 * the ones that do start their own. `CHAOS_SCALE=small` is the CI variant (see docs/reliability.md).
 */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];

/** @type {import('jest').Config} */
module.exports = {
  displayName: 'chaos',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  setupFiles: ['<rootDir>/test/support/env.ts'],
  testMatch: ['<rootDir>/test/chaos/**/*.chaos.test.ts'],
  globalSetup: '<rootDir>/test/chaos/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/chaos/support/global-teardown.ts',
  maxWorkers: 1,
  // The suites bound every wait themselves, but a graphmill bug can leave a driver session pending
  // forever (see product-bugs 8); the run must still end and report.
  forceExit: true,
  testTimeout: 600_000,
  slowTestThreshold: 120,
};
