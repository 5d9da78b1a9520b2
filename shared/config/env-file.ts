import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from './index';

/** Parses KEY=VALUE lines (the format `npm run neo4j:start` writes to `<stateDir>/neo4j.env`). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
      value = value.slice(1, -1);
    }
    out[line.slice(0, eq).trim()] = value;
  }
  return out;
}

/**
 * Local runs only (CLI, demo, tests): when the environment names no Neo4j, use the server that
 * `npm run neo4j:start` recorded under the state directory. An explicit NEO4J_URI always wins.
 */
export function withLocalNeo4jEnv(env: Env, stateDir: string): Env {
  if (env['NEO4J_URI']?.trim()) return env;
  let text: string;
  try {
    text = readFileSync(join(stateDir, 'neo4j.env'), 'utf8');
  } catch {
    return env;
  }
  const file = parseEnvFile(text);
  return {
    ...env,
    NEO4J_URI: file['NEO4J_URI'],
    NEO4J_USERNAME: env['NEO4J_USERNAME'] ?? file['NEO4J_USERNAME'],
    NEO4J_PASSWORD: file['NEO4J_PASSWORD'],
  };
}
