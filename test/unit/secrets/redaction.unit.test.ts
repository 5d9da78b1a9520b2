import { REDACTED, SecretRegistry, secretRegistry } from '../../../shared/secrets';
import { redactUrl, redactUrlsInText } from '../../../shared/secrets/redaction';

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
      // The userinfo goes whole, user name included, whether or not the password was remembered.
      message: 'connect failed for neo4j://host',
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

describe('redactUrl', () => {
  it.each([
    [
      'https://storage.googleapis.com/acme/doc.txt?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=svc%40acme.iam.gserviceaccount.com%2F20240101&X-Goog-Signature=0a1b2c3d4e5f',
      `https://storage.googleapis.com/acme/doc.txt?X-Goog-Algorithm=${REDACTED}&X-Goog-Credential=${REDACTED}&X-Goog-Signature=${REDACTED}`,
    ],
    ['https://user:pa55word@docs.example.test:8443/a/b.md', 'https://docs.example.test:8443/a/b.md'],
    [
      'https://docs.example.test/a?v=2&flag#access_token=abc',
      `https://docs.example.test/a?v=${REDACTED}&${REDACTED}#${REDACTED}`,
    ],
    ['bolt://neo4j:hunter2-secret@db.example.test:7687', 'bolt://db.example.test:7687'],
    ['gs://bucket/reports/q3%20summary.txt', 'gs://bucket/reports/q3%20summary.txt'],
    ['file:///srv/docs/a.md', 'file:///srv/docs/a.md'],
    ['https://docs.example.test/guide/intro.md', 'https://docs.example.test/guide/intro.md'],
  ])('shows %s as %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  it('treats text that is not a URL as free text', () => {
    expect(redactUrl('no url here')).toBe('no url here');
    expect(redactUrl('see host.test/x?sig=abcdef')).toBe(`see host.test/x?sig=${REDACTED}`);
  });
});

describe('URLs in free text', () => {
  it('removes userinfo and masks signature-, token- and key-like query values, keeping the rest', () => {
    const text =
      'fetching https://user:pw@docs.example.test/a?token=abc123&page=2&X-Amz-Signature=zzz9 failed; ' +
      'neo4j at bolt://neo4j:hunter2@db.example.test:7687; ' +
      'signed https://s.example.test/o?X-Goog-Credential=svc%2F1&X-Goog-Signature=ff00&sig=sas1&apikey=k1&monkey=2';
    expect(redactUrlsInText(text)).toBe(
      `fetching https://docs.example.test/a?token=${REDACTED}&page=2&X-Amz-Signature=${REDACTED} failed; ` +
        'neo4j at bolt://db.example.test:7687; ' +
        `signed https://s.example.test/o?X-Goog-Credential=${REDACTED}&X-Goog-Signature=${REDACTED}&sig=${REDACTED}&apikey=${REDACTED}&monkey=2`,
    );
  });

  it('leaves text without URL credentials as it is', () => {
    for (const text of ['user@example.test wrote a=b', 'https://docs.example.test/a?page=2', 'x = y']) {
      expect(redactUrlsInText(text)).toBe(text);
    }
  });

  it('applies to every redaction, with or without remembered secrets (logs, problem details, alerts)', () => {
    const r = new SecretRegistry();
    const line =
      'GET https://h.example.test/d.txt?X-Goog-Signature=deadbeef01 by ftp://u:secretpw@h.example.test/';
    const shown = `GET https://h.example.test/d.txt?X-Goog-Signature=${REDACTED} by ftp://h.example.test/`;
    expect(r.redact(line)).toBe(shown);
    r.remember('unrelated-secret');
    expect(r.redact(line)).toBe(shown);
    expect(r.redactFields({ source: line, nested: { error: new Error(line) } })).toMatchObject({
      source: shown,
      nested: { error: { message: shown } },
    });
  });
});
