import { REDACTED, SecretRegistry, secretRegistry } from '../../../shared/secrets';

describe('SecretRegistry.redact', () => {
  it('masks every occurrence of every remembered value', () => {
    const r = new SecretRegistry();
    r.remember('hunter2-long');
    r.remember('xoxb-slack-token');
    expect(r.redact('a hunter2-long b hunter2-long c xoxb-slack-token')).toBe(
      `a ${REDACTED} b ${REDACTED} c ${REDACTED}`,
    );
  });

  it('ignores values shorter than 6 characters', () => {
    const r = new SecretRegistry();
    r.remember('admin');
    expect(r.size).toBe(0);
    expect(r.redact('user admin logged in')).toBe('user admin logged in');
  });

  it('returns the same string when nothing is registered', () => {
    const r = new SecretRegistry();
    const text = 'nothing to hide here';
    expect(r.redact(text)).toBe(text);
    expect(r.contains(text)).toBe(false);
  });

  it('masks a longer secret whole even when it contains a shorter one', () => {
    const r = new SecretRegistry();
    r.remember('abcdef');
    r.remember('abcdef-ghijkl');
    expect(r.redact('x abcdef-ghijkl y abcdef')).toBe(`x ${REDACTED} y ${REDACTED}`);
  });

  it('treats regex metacharacters literally', () => {
    const r = new SecretRegistry();
    r.remember('p@ss.w*rd(1)');
    expect(r.redact('pw p@ss.w*rd(1) and p@ssXw*rd(1)')).toBe(`pw ${REDACTED} and p@ssXw*rd(1)`);
  });

  it('also masks the URL-encoded and JSON-escaped forms', () => {
    const r = new SecretRegistry();
    r.remember('a b/c"d\\e');
    expect(r.redact('https://x/?k=a%20b%2Fc%22d%5Ce')).toBe(`https://x/?k=${REDACTED}`);
    expect(r.redact(JSON.stringify({ v: 'a b/c"d\\e' }))).toBe(`{"v":"${REDACTED}"}`);
  });

  it('exports one process-wide instance', () => {
    expect(secretRegistry).toBeInstanceOf(SecretRegistry);
  });
});

describe('SecretRegistry.redactFields', () => {
  it('masks values of password-shaped keys at any depth, and remembered values anywhere', () => {
    const r = new SecretRegistry();
    r.remember('neo4j-pass-value');
    const fields = {
      documentId: 'doc-1',
      password: 'whatever',
      neo4jPassword: 'x',
      headers: { Authorization: 'Bearer abc', 'x-api-key': 'k', accept: 'json' },
      slackWebhookUrl: 'https://hooks.slack.com/services/T/B/X',
      clientSecret: { nested: true },
      private_key: '-----BEGIN',
      credentials: ['a', 'b'],
      GRAPHMILL_TOKEN: 'tkn',
      message: 'connect failed for neo4j://u:neo4j-pass-value@host',
      list: [{ note: 'has neo4j-pass-value inside' }, 3],
      tokenCount: 812,
      passwordSet: true,
      secretVersion: undefined,
    };

    expect(r.redactFields(fields)).toEqual({
      documentId: 'doc-1',
      password: REDACTED,
      neo4jPassword: REDACTED,
      headers: { Authorization: REDACTED, 'x-api-key': REDACTED, accept: 'json' },
      slackWebhookUrl: REDACTED,
      clientSecret: REDACTED,
      private_key: REDACTED,
      credentials: REDACTED,
      GRAPHMILL_TOKEN: REDACTED,
      message: `connect failed for neo4j://u:${REDACTED}@host`,
      list: [{ note: `has ${REDACTED} inside` }, 3],
      tokenCount: 812,
      passwordSet: true,
      secretVersion: undefined,
    });
    expect(fields.password).toBe('whatever'); // a copy, not in place
  });

  it('copies Errors as plain objects with redacted message and stack', () => {
    const r = new SecretRegistry();
    r.remember('leaky-secret');
    const err = Object.assign(new Error('auth failed with leaky-secret'), { code: 'E1', token: 'zzz' });
    const out: { error: unknown } = r.redactFields<{ error: unknown }>({ error: err });
    expect(out.error).toMatchObject({
      name: 'Error',
      message: `auth failed with ${REDACTED}`,
      code: 'E1',
      token: REDACTED,
    });
    expect(JSON.stringify(out)).not.toContain('leaky-secret');
  });

  it('survives cycles and keeps non-plain objects', () => {
    const r = new SecretRegistry();
    const when = new Date(0);
    const obj: Record<string, unknown> = { when, shared: { a: 1 } };
    obj['self'] = obj;
    obj['again'] = obj['shared'];
    expect(r.redactFields(obj)).toEqual({ when, shared: { a: 1 }, self: '[Circular]', again: { a: 1 } });
  });

  it('passes primitives through', () => {
    const r = new SecretRegistry();
    expect(r.redactFields(42)).toBe(42);
    expect(r.redactFields(null)).toBeNull();
  });
});
