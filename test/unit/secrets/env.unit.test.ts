import { isGraphmillError } from '../../../shared/errors';
import { EnvSecretStore, SecretRegistry, envVarNameFor } from '../../../shared/secrets';

describe('envVarNameFor', () => {
  it.each([
    ['neo4j-password', '', 'NEO4J_PASSWORD'],
    ['slack-webhook-url', '', 'SLACK_WEBHOOK_URL'],
    ['slackWebhookUrl', '', 'SLACK_WEBHOOK_URL'],
    ['api.key', '', 'API_KEY'],
    ['neo4j-password', 'GRAPHMILL_', 'GRAPHMILL_NEO4J_PASSWORD'],
    ['projects/p/secrets/neo4j-password/versions/3', '', 'NEO4J_PASSWORD'],
  ])('%s (prefix %j) -> %s', (name, prefix, expected) => {
    expect(envVarNameFor(name, prefix)).toBe(expected);
  });
});

describe('EnvSecretStore', () => {
  it('reads the upper-snake-case variable and remembers the value', async () => {
    const registry = new SecretRegistry();
    const store = new EnvSecretStore({ NEO4J_PASSWORD: 'local-password' }, { registry });
    await expect(store.get('neo4j-password')).resolves.toBe('local-password');
    expect(registry.redact('pw=local-password')).toBe('pw=[REDACTED]');
  });

  it('applies a prefix, and an explicit mapping wins', async () => {
    const env = { GRAPHMILL_NEO4J_PASSWORD: 'prefixed-value', SLACK_URL: 'https://hooks.example/x' };
    const store = new EnvSecretStore(env, {
      prefix: 'GRAPHMILL_',
      mapping: { 'slack-webhook': 'SLACK_URL' },
      registry: new SecretRegistry(),
    });
    await expect(store.get('neo4j-password')).resolves.toBe('prefixed-value');
    await expect(store.get('slack-webhook')).resolves.toBe('https://hooks.example/x');
  });

  it.each([[{}], [{ NEO4J_PASSWORD: '' }], [{ NEO4J_PASSWORD: '   ' }]])(
    'a missing or empty variable is a non-retryable config_invalid naming the variable (%j)',
    async (env) => {
      const store = new EnvSecretStore(env, { registry: new SecretRegistry() });
      const err: unknown = await store.get('neo4j-password').catch((e: unknown) => e);
      expect(isGraphmillError(err)).toBe(true);
      expect(err).toMatchObject({
        code: 'config_invalid',
        retryable: false,
        details: { envVar: 'NEO4J_PASSWORD' },
      });
      expect((err as Error).message).toContain('NEO4J_PASSWORD');
    },
  );

  it('invalidate is harmless', async () => {
    const store = new EnvSecretStore({ TOKEN_X: 'value-123456' }, { registry: new SecretRegistry() });
    store.invalidate('token-x');
    await expect(store.get('token-x')).resolves.toBe('value-123456');
  });
});
