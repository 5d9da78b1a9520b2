import { Neo4jError } from 'neo4j-driver';
import { classifyNeo4jError, isNeo4jConnectivityError } from '../../../shared/adapters/neo4j/errors';

const err = (code: string) => new Neo4jError(`server said ${code}`, code, 'N/A', 'N/A');

it.each([
  ['ServiceUnavailable', 'dependency_unavailable', true, true],
  ['SessionExpired', 'dependency_unavailable', true, true],
  ['Neo.TransientError.Transaction.DeadlockDetected', 'dependency_unavailable', true, false],
  ['Neo.ClientError.Security.Unauthorized', 'dependency_unavailable', true, false],
  ['Neo.TransientError.General.MemoryPoolOutOfMemoryError', 'content_too_large', false, false],
])('%s -> %s (retryable %s, an outage %s)', (code, expected, retryable, outage) => {
  const e = classifyNeo4jError(err(code));
  expect(e).toMatchObject({ code: expected, retryable });
  expect(isNeo4jConnectivityError(err(code))).toBe(outage);
});

it('leaves Cypher and constraint errors unclassified: they are bugs, not dependency problems', () => {
  expect(classifyNeo4jError(err('Neo.ClientError.Statement.SyntaxError'))).toBeUndefined();
  expect(classifyNeo4jError(new Error('not from neo4j'))).toBeUndefined();
});

it("classifies the driver's own errors (no Neo. code) as a dependency problem", () => {
  expect(classifyNeo4jError(err('N/A'))).toMatchObject({ code: 'dependency_unavailable', retryable: true });
});
