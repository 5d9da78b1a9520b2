/** The suite runs on the deploy runtime: Cloud Run functions nodejs24. */
import { DatabaseSync } from 'node:sqlite';

it('runs on Node.js 24, the deploy runtime', () => {
  expect(Number(process.versions.node.split('.')[0])).toBe(24);
});

it('has the embedded SQLite the local mode uses', () => {
  const db = new DatabaseSync(':memory:');
  expect(db.prepare('SELECT sqlite_version() AS v').get()).toEqual({ v: expect.stringMatching(/^3\./) });
  db.close();
});
