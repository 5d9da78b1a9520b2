import { isGraphmillError } from '../../../shared/errors';
import { makeRetry } from '../../../shared/resilience';
import { fixedRandom, makeFakeTime } from '../../../shared/resilience/testing';
import { SecretRegistry } from '../../../shared/secrets';
import {
  SecretManagerSecretStore,
  type AccessSecretVersionResponseLike,
  type SecretManagerLike,
} from '../../../shared/adapters/secret-manager/secret-store';

type Answer = AccessSecretVersionResponseLike | Error;

function fakeClient(...answers: Answer[]) {
  const accessSecretVersion = jest.fn((_request: { name: string }) => {
    const answer = answers.length > 1 ? answers.shift() : answers[0];
    if (answer instanceof Error) return Promise.reject(answer);
    return Promise.resolve([answer ?? {}, undefined, {}] as const);
  });
  const client: SecretManagerLike = { accessSecretVersion };
  const factory = jest.fn(() => client);
  return { accessSecretVersion, factory };
}

const grpcError = (code: number, name: string): Error =>
  Object.assign(new Error(`${code} ${name}: something`), { code, details: 'something', metadata: {} });

function store(answers: Answer[], extra: { version?: string; registry?: SecretRegistry } = {}) {
  const fake = fakeClient(...answers);
  const registry = extra.registry ?? new SecretRegistry();
  const s = new SecretManagerSecretStore({ projectId: 'my-proj', client: fake.factory, registry, ...extra });
  return { store: s, registry, ...fake };
}

describe('SecretManagerSecretStore', () => {
  it('creates the client lazily, once, on the first get', async () => {
    const { store: s, factory } = store([{ payload: { data: Buffer.from('pw-123456') } }]);
    expect(factory).not.toHaveBeenCalled();
    await s.get('neo4j-password');
    await s.get('neo4j-password');
    expect(factory).toHaveBeenCalledTimes(1);
  });

  it('requests projects/P/secrets/NAME/versions/latest', async () => {
    const { store: s, accessSecretVersion } = store([{ payload: { data: Buffer.from('x-123456') } }]);
    await s.get('neo4j-password');
    expect(accessSecretVersion).toHaveBeenCalledWith({
      name: 'projects/my-proj/secrets/neo4j-password/versions/latest',
    });
  });

  it('uses a full versioned resource name as given, and completes an unversioned one', async () => {
    const { store: s, accessSecretVersion } = store([{ payload: { data: 'pinned-value' } }], {
      version: '7',
    });
    await s.get('projects/other-proj/secrets/neo4j-password/versions/3');
    await s.get('projects/other-proj/secrets/slack-webhook');
    await s.get('api-key');
    expect(accessSecretVersion.mock.calls.map(([r]) => r.name)).toEqual([
      'projects/other-proj/secrets/neo4j-password/versions/3',
      'projects/other-proj/secrets/slack-webhook/versions/7',
      'projects/my-proj/secrets/api-key/versions/7',
    ]);
  });

  it.each([
    ['Buffer', Buffer.from('pässwörd-✓', 'utf8')],
    ['Uint8Array', new TextEncoder().encode('pässwörd-✓')],
    ['string', 'pässwörd-✓'],
  ])('decodes a %s payload as UTF-8', async (_kind, data) => {
    const { store: s } = store([{ payload: { data } }]);
    await expect(s.get('k')).resolves.toBe('pässwörd-✓');
  });

  it('remembers the value for redaction', async () => {
    const { store: s, registry } = store([{ payload: { data: Buffer.from('very-secret-value') } }]);
    await s.get('k');
    expect(registry.redact('Bearer very-secret-value')).toBe('Bearer [REDACTED]');
  });

  it.each([
    [5, 'NOT_FOUND'],
    [7, 'PERMISSION_DENIED'],
    [9, 'FAILED_PRECONDITION'],
    [16, 'UNAUTHENTICATED'],
    [3, 'INVALID_ARGUMENT'],
  ])('maps gRPC %i (%s) to a permanent config_invalid with the cause', async (code, name) => {
    const upstream = grpcError(code, name);
    const { store: s } = store([upstream]);
    const err: unknown = await s.get('neo4j-password').catch((e: unknown) => e);
    expect(isGraphmillError(err)).toBe(true);
    expect(err).toMatchObject({
      code: 'config_invalid',
      retryable: false,
      cause: upstream,
      details: {
        resource: 'projects/my-proj/secrets/neo4j-password/versions/latest',
        upstream: `grpc_${name}`,
      },
    });
  });

  it.each([
    [14, 'UNAVAILABLE', 'dependency_unavailable'],
    [8, 'RESOURCE_EXHAUSTED', 'dependency_unavailable'],
    [13, 'INTERNAL', 'dependency_unavailable'],
    [4, 'DEADLINE_EXCEEDED', 'dependency_timeout'],
  ])('maps gRPC %i (%s) to a retryable %s with the cause', async (code, name, expected) => {
    const upstream = grpcError(code, name);
    const { store: s } = store([upstream]);
    await expect(s.get('k')).rejects.toMatchObject({
      code: expected,
      retryable: true,
      status: 503,
      cause: upstream,
    });
  });

  it('maps an unclassified failure to a non-retryable internal error', async () => {
    const { store: s } = store([new TypeError('client bug')]);
    await expect(s.get('k')).rejects.toMatchObject({ code: 'internal', retryable: false });
  });

  it('rejects an empty payload, invalid UTF-8 and a malformed name as config_invalid', async () => {
    await expect(store([{ payload: null }]).store.get('k')).rejects.toMatchObject({ code: 'config_invalid' });
    await expect(
      store([{ payload: { data: new Uint8Array([0xff, 0xfe]) } }]).store.get('k'),
    ).rejects.toMatchObject({
      code: 'config_invalid',
    });
    const { store: s, factory } = store([{ payload: { data: 'x' } }]);
    await expect(s.get('no spaces/allowed')).rejects.toMatchObject({ code: 'config_invalid' });
    expect(factory).not.toHaveBeenCalled();
  });

  it('reports a client that cannot be created as config_invalid', async () => {
    const s = new SecretManagerSecretStore({
      projectId: 'p',
      client: () => {
        throw new Error('Could not load the default credentials');
      },
      registry: new SecretRegistry(),
    });
    await expect(s.get('k')).rejects.toMatchObject({ code: 'config_invalid', retryable: false });
  });

  it('refuses an empty project id', () => {
    expect(() => new SecretManagerSecretStore({ projectId: ' ' })).toThrow('project id');
  });

  it('runs each access through the given policy (retrying UNAVAILABLE)', async () => {
    const time = makeFakeTime(0);
    const retry = makeRetry({
      name: 'secretManager',
      maxAttempts: 3,
      initialDelayMs: 200,
      maxDelayMs: 2_000,
      maxTotalMs: 5_000,
      clock: time.clock,
      sleep: time.sleep,
      random: fixedRandom(0.5),
    });
    const fake = fakeClient(grpcError(14, 'UNAVAILABLE'), { payload: { data: 'after-retry-value' } });
    const s = new SecretManagerSecretStore({
      projectId: 'p',
      client: fake.factory,
      policy: retry,
      registry: new SecretRegistry(),
    });
    await expect(s.get('k')).resolves.toBe('after-retry-value');
    expect(fake.accessSecretVersion).toHaveBeenCalledTimes(2);
    expect(time.sleeps).toEqual([100]);
  });
});
