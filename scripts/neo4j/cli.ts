/**
 * Local Neo4j for development: `node dist/scripts/neo4j/cli.js start|stop|status`
 * (npm run neo4j:start / neo4j:stop).
 *
 *   start   resolve a Neo4j (NEO4J_URI env, else .graphmill/neo4j.env, else start a local server) and print
 *           NEO4J_URI= and NEO4J_USERNAME= lines on stdout, and where the password is (never the password:
 *           .graphmill/neo4j.env, mode 0600, holds all three for a server started here). Progress goes to
 *           stderr.
 *   stop    stop the server that `start` started.
 *   status  say what is configured and whether it answers (exit 0 if something answers, else 3).
 *
 * The state dir is ./.graphmill, or GRAPHMILL_STATE_DIR.
 */
import * as path from 'node:path';
import { neo4jStatus, resolveNeo4j, stopNeo4j } from './provision';

const USAGE = 'usage: cli.js start|stop|status';

async function main(argv: string[]): Promise<number> {
  const stateDir = path.resolve(process.env['GRAPHMILL_STATE_DIR'] ?? '.graphmill');
  const [command, ...rest] = argv;
  if (rest.length > 0 || !command) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  switch (command) {
    case 'start': {
      const neo = await resolveNeo4j({ stateDir });
      const how = neo.startedHere ? `started here (${neo.source})` : `already available (${neo.source})`;
      process.stderr.write(`[neo4j] ${neo.uri} ${how}\n`);
      // The password is never printed (terminals and CI logs keep what is printed): it is in the 0600
      // env file for a server started here, or already in the caller's environment.
      const where =
        neo.source === 'env'
          ? 'the environment'
          : path.relative(process.cwd(), path.join(stateDir, 'neo4j.env')) || 'neo4j.env';
      process.stdout.write(
        `NEO4J_URI=${neo.uri}\nNEO4J_USERNAME=${neo.username}\n# NEO4J_PASSWORD: in ${where}\n`,
      );
      return 0;
    }
    case 'stop':
      await stopNeo4j(stateDir);
      return 0;
    case 'status': {
      const status = await neo4jStatus({ stateDir });
      for (const line of status.lines) process.stdout.write(`${line}\n`);
      return status.answering ? 0 : 3;
    }
    default:
      process.stderr.write(`unknown command '${command}'\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`neo4j: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
