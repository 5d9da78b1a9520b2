/**
 * `npm run demo`: make sure a Neo4j answers (starting a local one if needed), ingest the bundled samples
 * through the graphmill CLI, then print the summary and a Cypher query to look at the result.
 */
import * as path from 'node:path';
import { main } from '../cli/main';
import { resolveNeo4j } from './neo4j/provision';

async function demo(): Promise<number> {
  const root = path.resolve(__dirname, '..', '..');
  const stateDir = path.join(root, '.graphmill');
  const neo = await resolveNeo4j({ stateDir });
  process.stderr.write(
    `[demo] Neo4j at ${neo.uri} (${neo.startedHere ? 'started for the demo' : 'already running'})\n`,
  );

  const code = await main(['ingest', path.join(root, 'samples'), '--state-dir', stateDir], {
    stdout: process.stdout,
    stderr: process.stderr,
    env: { ...process.env, NEO4J_URI: neo.uri, NEO4J_USERNAME: neo.username, NEO4J_PASSWORD: neo.password },
    cwd: root,
  });

  process.stdout.write(`
Look at the graph (Neo4j Browser, cypher-shell, or any driver) with:

  MATCH (d:Document)-[:FIRST_CHUNK]->(first:Chunk)
  MATCH path = (first)-[:NEXT_CHUNK*0..]->(c:Chunk)
  RETURN d.id AS document, d.chunkCount AS chunks, c.index AS index, left(c.text, 60) AS text
  ORDER BY document, index

Connection details are in .graphmill/neo4j.env. Run the demo again: every document reports "unchanged".
Stop the local server with: npm run neo4j:stop
`);
  return code;
}

demo().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`[demo] failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
