/**
 * Importing the orchestrate entrypoint registers the function and loads nothing heavy: every module
 * below throws if it is loaded, so the import only succeeds if none of them is.
 */
const HEAVY = [
  'neo4j-driver',
  'winston',
  'zod',
  '@google-cloud/logging-winston',
  '@google-cloud/firestore',
  '@google-cloud/bigquery',
  '@google-cloud/pubsub',
  '@google-cloud/storage',
  '@google-cloud/secret-manager',
  'node:sqlite',
];
for (const name of HEAVY) {
  jest.doMock(name, () => {
    throw new Error(`${name} was loaded while importing the entrypoint`);
  });
}

it('registers orchestrate without loading drivers, clients, validation or logging libraries', () => {
  expect(() => {
    require('../../../functions/orchestrate');
  }).not.toThrow();
  const testing =
    require('@google-cloud/functions-framework/testing') as typeof import('@google-cloud/functions-framework/testing');
  expect(typeof testing.getFunction('orchestrate')).toBe('function');
});
