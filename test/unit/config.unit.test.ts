import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_VARIABLES, parseConfig } from '../../shared/config';
import { GraphmillError } from '../../shared/errors';

const base = { NEO4J_URI: 'bolt://127.0.0.1:7687', NEO4J_PASSWORD: 'pw-for-tests' };

describe('parseConfig', () => {
  it('applies documented defaults', () => {
    const c = parseConfig(base, '/srv');
    expect(c).toMatchObject({
      mode: 'local',
      stateDir: '.graphmill',
      fileRoot: '/srv',
      neo4j: { uri: 'bolt://127.0.0.1:7687', username: 'neo4j', maxConnectionPoolSize: 20 },
      chunking: { chunkSize: 1000, chunkOverlap: 200 },
      writeBatchSize: 1000,
      leaseMs: 600_000,
      log: { level: 'info', format: 'pretty' },
    });
  });

  it('detects Cloud Run and switches to JSON logs', () => {
    const c = parseConfig({
      NEO4J_URI: 'neo4j+s://abcd1234.databases.neo4j.io',
      NEO4J_PASSWORD_SECRET: 'neo4j-password',
      GOOGLE_CLOUD_PROJECT: 'acme-prod',
      K_SERVICE: 'orchestrate',
    });
    expect(c.mode).toBe('gcp');
    expect(c.log.format).toBe('json');
    expect(c.secrets).toMatchObject({ backend: 'secret-manager', neo4jPasswordSecret: 'neo4j-password' });
    expect(c.adapters).toEqual({ statusStore: 'firestore', completionLedgers: 'gcp', eventBus: 'pubsub' });
  });

  it('requires the secret name and the project in gcp mode, and lets each port be overridden', () => {
    expect(() => parseConfig({ NEO4J_URI: 'neo4j+s://x.databases.neo4j.io', K_SERVICE: 'x' })).toThrow(
      /NEO4J_PASSWORD_SECRET[\s\S]*GOOGLE_CLOUD_PROJECT/,
    );
    const c = parseConfig({
      ...base,
      STATUS_STORE: 'memory',
      EVENT_BUS: 'local',
      GRAPHMILL_PHASES: 'ingest, review',
    });
    expect(c.adapters.statusStore).toBe('memory');
    expect(c.phases).toEqual(['ingest', 'review']);
  });

  it.each([
    [{ CHUNK_SIZE: '1' }, 'CHUNK_SIZE'],
    [{ CHUNK_SIZE: 'ten' }, 'CHUNK_SIZE'],
    [{ CHUNK_SIZE: '100', CHUNK_OVERLAP: '100' }, 'CHUNK_OVERLAP'],
    [{ NEO4J_URI: 'http://127.0.0.1:7474' }, 'NEO4J_URI'],
    [{ NEO4J_MAX_POOL_SIZE: '0' }, 'NEO4J_MAX_POOL_SIZE'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ GRAPHMILL_MODE: 'cloud' }, 'GRAPHMILL_MODE'],
    [{ WRITE_BATCH_SIZE: '1.5' }, 'WRITE_BATCH_SIZE'],
    [{ GRAPHMILL_PHASES: 'ingest,ingest' }, 'GRAPHMILL_PHASES'],
    [{ SLACK_WEBHOOK_URL: 'http://hooks.example' }, 'SLACK_WEBHOOK_URL'],
    [{ STATUS_STORE: 'postgres' }, 'STATUS_STORE'],
  ])('rejects %j naming %s', (override, name) => {
    expect(() => parseConfig({ ...base, ...override })).toThrow(new RegExp(name));
  });

  it('names every missing or invalid variable in one error', () => {
    let error: unknown;
    try {
      parseConfig({ CHUNK_SIZE: '-3', LOG_FORMAT: 'xml', NEO4J_ACQUISITION_TIMEOUT_MS: 'soon' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GraphmillError);
    const e = error as GraphmillError;
    expect(e.code).toBe('config_invalid');
    for (const name of [
      'NEO4J_URI',
      'NEO4J_PASSWORD',
      'CHUNK_SIZE',
      'LOG_FORMAT',
      'NEO4J_ACQUISITION_TIMEOUT_MS',
    ]) {
      expect(e.message).toContain(name);
    }
    expect(e.details?.['problems']).toHaveLength(5);
  });

  it('never echoes a secret value in its errors', () => {
    expect(() => parseConfig({ ...base, NEO4J_URI: 'not a uri', NEO4J_PASSWORD: 'hunter2-secret' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2-secret') }),
    );
  });

  it.each([
    [
      'bolt://graph-user:hunter2-secret@db.example.test',
      'must not carry credentials',
      'bolt://db.example.test',
    ],
    [
      'bolt://graph-user:hunter2-secret@db.example.test/neo4j',
      'must not carry credentials',
      'bolt://db.example.test/neo4j',
    ],
    [
      'bolt://db.example.test/neo4j?password=hunter2-secret',
      'not a Neo4j URI',
      'bolt://db.example.test/neo4j?password=[REDACTED]',
    ],
  ])('refuses NEO4J_URI %s without printing its password', (uri, problem, shown) => {
    let message = '';
    try {
      parseConfig({ ...base, NEO4J_URI: uri });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`NEO4J_URI: ${problem}`);
    expect(message).toContain(`got "${shown}"`);
    expect(message).not.toContain('hunter2-secret');
    expect(message).not.toContain('graph-user');
  });

  it('documents every variable in docs/configuration.md', () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
    const missing = CONFIG_VARIABLES.filter((v) => !doc.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });
});
