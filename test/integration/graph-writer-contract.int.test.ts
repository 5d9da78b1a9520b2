/**
 * The GraphWriter contract (test/contracts/graph-writer.contract.ts) against the Neo4j writer and a real
 * Neo4j. What it committed is read back with inspectDocument (the visible version: the chunks of the
 * Document's generation), and every read also checks the graph's links and the derived chunk ids.
 */
import { randomUUID } from 'node:crypto';
import neo4j, { type Driver } from 'neo4j-driver';
import type { Neo4jAccess } from '../../shared/adapters/neo4j/access';
import { chunkId, makeNeo4jGraphWriter } from '../../shared/adapters/neo4j/graph-writer';
import type { GraphWriter } from '../../shared/ports/graph-writer';
import { graphWriterContract, type StoredDocument } from '../contracts/graph-writer.contract';
import { inspectDocument, structureProblems } from '../support/graph-inspect';
import { neo4jConnection, testNeo4jAccess } from '../support/neo4j';

const run = randomUUID().slice(0, 8);
const prefix = `itc-${run}-`;

let driver: Driver;
let access: Neo4jAccess;

beforeAll(() => {
  const conn = neo4jConnection();
  driver = neo4j.driver(conn.uri, neo4j.auth.basic(conn.username, conn.password), {
    disableLosslessIntegers: true,
  });
  access = testNeo4jAccess();
});

afterAll(async () => {
  const session = driver.session();
  try {
    await session.run('MATCH (n) WHERE n.id STARTS WITH $p OR n.documentId STARTS WITH $p DETACH DELETE n', {
      p: prefix,
    });
  } finally {
    await session.close();
  }
  await access.close();
  await driver.close();
});

async function readBack(_writer: GraphWriter, documentId: string): Promise<StoredDocument> {
  const g = await inspectDocument(driver, documentId);
  const d = g.document;
  if (!d) return { visible: undefined, storedChunks: g.allChunkNodes, problems: [] };
  const generation = d['generation'] as number;
  const idProblems = g.chunks
    .filter((c) => c.id !== chunkId(documentId, generation, c.index))
    .map((c) => `chunk ${c.id} is not ${chunkId(documentId, generation, c.index)}`);
  return {
    visible: {
      generation,
      chunkCount: d['chunkCount'] as number,
      contentHash: d['contentHash'] as string,
      chunkSize: d['chunkSize'] as number,
      chunkOverlap: d['chunkOverlap'] as number,
      writeToken: (d['writeToken'] as string | undefined) ?? undefined,
      chunks: g.chunks.map((c) => ({
        index: c.index,
        text: c.text,
        start: c.start,
        end: c.end,
        generation: c.generation,
      })),
    },
    storedChunks: g.allChunkNodes,
    problems: [...structureProblems(g), ...idProblems],
  };
}

graphWriterContract('Neo4jGraphWriter', {
  makeWriter: (batchSize) => makeNeo4jGraphWriter(access, { batchSize }),
  readBack,
  id: (name) => `${prefix}${name}`,
});
