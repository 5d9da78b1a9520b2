/**
 * Two projects:
 * - unit: pure code and the port contract suites on local adapters, no services (`npm run test:unit`).
 * - integration: integration and e2e suites against a real Neo4j. Its global setup provisions Neo4j
 *   (an existing NEO4J_URI, else .graphmill/neo4j.env, else a local server it starts) and stops only
 *   what it started.
 */
// Type checking is `npm run typecheck`; tests transpile only (isolatedModules in tsconfig.json).
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      setupFiles: ['<rootDir>/test/support/env.ts'],
      testMatch: ['<rootDir>/test/unit/**/*.unit.test.ts', '<rootDir>/test/contracts/**/*.contract.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      setupFiles: ['<rootDir>/test/support/env.ts'],
      testMatch: ['<rootDir>/test/integration/**/*.int.test.ts', '<rootDir>/test/e2e/**/*.e2e.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      slowTestThreshold: 30,
    },
  ],
  testTimeout: 60000,
};
