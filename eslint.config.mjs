import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      '.graphmill/**',
      'bin/**',
      '*.config.js',
      '*.config.mjs',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      // Heavy modules are loaded with require() inside functions, on first use, to keep cold starts short.
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The core (use cases, pipeline, transitions) depends on ports, never on adapters or the technology
    // behind them: those are wired in by the composition root (shared/runtime) and the entrypoints.
    files: ['shared/{usecases,pipeline,status,batches,dlq,tracking,chunking,documents,events,ports}/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/adapters/**', '**/runtime/**', '**/functions/**', '**/cli/**'],
              message: 'The core imports ports (shared/ports), not adapters or the composition root.',
            },
            {
              group: ['neo4j-driver', '@google-cloud/*', 'node:sqlite', 'express', 'winston'],
              message: 'Technology belongs in shared/adapters/<tech>, behind a port.',
            },
          ],
        },
      ],
    },
  },
  {
    // Test bodies read untyped HTTP/JSON answers and pass jest matchers around.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
);
