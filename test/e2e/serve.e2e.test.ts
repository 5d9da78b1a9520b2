/**
 * `graphmill serve` runs the real orchestrate function (functions framework + Express) on the CLI's
 * state directory; requests go over loopback HTTP to a real Neo4j.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import neo4j from 'neo4j-driver';
import { sendStreamedBody, type StreamedAnswer } from '../chaos/support/hostile';
import { runCli } from '../support/cli';
import { inspectDocument } from '../support/graph-inspect';
import { neo4jConnection } from '../support/neo4j';

const run = randomUUID().slice(0, 8);

it('serves orchestrate over HTTP on the CLI state directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'graphmill-serve-'));
  const name = `serve-${run}.md`;
  const text =
    '# Served\n\nThis document goes through the HTTP function. It is chunked and written.\n\n'.repeat(20);
  writeFileSync(join(dir, name), text);
  const stateDir = join(dir, 'state');
  const reg = await runCli(['register', name, '--state-dir', stateDir], { cwd: dir });
  expect(reg.code).toBe(0);

  const conn = neo4jConnection();
  const driver = neo4j.driver(conn.uri, neo4j.auth.basic(conn.username, conn.password), {
    disableLosslessIntegers: true,
  });
  const answers: { status: number; type: string | null; body: Record<string, unknown> }[] = [];
  let chunked: (StreamedAnswer & { rssBeforeMb: number; rssAfterMb: number }) | undefined;
  try {
    const res = await runCli(['serve', '--port', '0', '--state-dir', stateDir, '--file-root', dir], {
      cwd: dir,
      untilStopped: async (port) => {
        const call = async (init: RequestInit) => {
          const r = await fetch(`http://127.0.0.1:${port}/`, init);
          answers.push({
            status: r.status,
            type: r.headers.get('content-type'),
            body: (await r.json()) as Record<string, unknown>,
          });
        };
        const json = (body: unknown): RequestInit => ({
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Request-ID': 'serve-test' },
          body: JSON.stringify(body),
        });
        await call(json({ document_id: name, action: 'process_document' }));
        await call(json({ document_id: name, action: 'process_document' }));
        await call({
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{"document_id":',
        });
        await call(json({ document_id: 'not-registered' }));
        // 300 MB chunked, as fast as loopback takes it: refused once past MAX_REQUEST_BYTES, not once read.
        const rssBefore = process.memoryUsage().rss;
        const streamed = await sendStreamedBody({
          port,
          headers: { 'content-type': 'application/json' },
          totalBytes: 300 * 1024 * 1024,
        });
        chunked = {
          ...streamed,
          rssBeforeMb: Math.round(rssBefore / 1_048_576),
          rssAfterMb: Math.round(process.memoryUsage().rss / 1_048_576),
        };
        await call(json({ document_id: name, action: 'delete_document' }));
      },
    });
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 400, 404, 200]);
    expect(answers[0]?.body).toMatchObject({
      status: 'completed',
      documentId: name,
      requestId: 'serve-test',
    });
    expect(answers[1]?.body).toMatchObject({ status: 'unchanged' });
    expect(answers[2]?.type).toMatch(/application\/problem\+json/);
    expect(answers[3]?.type).toMatch(/application\/problem\+json/);
    expect(answers[4]?.body).toMatchObject({ status: 'deleted' });
    expect(chunked).toMatchObject({ status: 413, contentType: expect.stringMatching(/problem\+json/) });
    expect(chunked?.sentAtAnswer).toBeLessThan(64 * 1024 * 1024);
    expect((chunked?.rssAfterMb ?? 0) - (chunked?.rssBeforeMb ?? 0)).toBeLessThan(100);
    const g = await inspectDocument(driver, name);
    expect(g.document).toBeUndefined();
    expect(g.allChunkNodes).toBe(0);
  } finally {
    await driver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
