/**
 * Poison documents (shared/pipeline/repeated-failure.ts): a document whose write fails the same way while
 * its statement is running, attempt after attempt, fails permanently at the limit instead of being retried
 * into a crash loop; an outage that refuses the connection (no statement ran) is retried as before.
 */
import { openMemoryDatabase } from '../../../shared/adapters/sqlite/database';
import { SqliteStatusStore } from '../../../shared/adapters/sqlite/status-store';
import { inlineSource } from '../../../shared/documents';
import { dependencyUnavailable, GraphmillError, withDetails } from '../../../shared/errors';
import { silentLogger } from '../../../shared/logging';
import type { GraphWriter } from '../../../shared/ports/graph-writer';
import { runDocument, type PipelineDeps } from '../../../shared/pipeline/process-document';
import { InMemoryStatusStore } from '../../../shared/adapters/memory/status-store';
import type { StatusStore } from '../../../shared/ports/status-store';
import { MemoryGraphWriter } from '../../../shared/adapters/memory/graph-writer';

const serverWentAway = () =>
  withDetails(dependencyUnavailable('Neo4j is unavailable (ServiceUnavailable); retry later'), {
    dependency: 'neo4j',
    duringStatement: true,
  });
const connectionRefused = () =>
  dependencyUnavailable('Neo4j is unavailable (ServiceUnavailable); retry later', {
    details: { dependency: 'neo4j' },
  });

/** A graph writer whose writes fail with `failure()` while `failing` is set. */
function failingWriter(failure: () => GraphmillError): GraphWriter & { failing: boolean; writes: number } {
  const inner = new MemoryGraphWriter(5);
  const w = Object.assign(Object.create(inner) as GraphWriter, { failing: true, writes: 0 });
  w.writeDocument = (...args: Parameters<GraphWriter['writeDocument']>) => {
    w.writes++;
    return w.failing ? Promise.reject(failure()) : inner.writeDocument(...args);
  };
  return w;
}

const stores: [string, () => StatusStore][] = [
  ['in-memory status store', () => new InMemoryStatusStore()],
  ['SQLite status store', () => new SqliteStatusStore(openMemoryDatabase())],
];

describe.each(stores)('repeated write failures on the %s', (_name, makeStore) => {
  const setup = (graph: GraphWriter, maxSameWriteFailures?: number) => {
    const status = makeStore();
    let now = 1_800_000_000_000;
    let run = 0;
    const deps: PipelineDeps = {
      status,
      source: inlineSource,
      graph,
      clock: () => (now += 1000),
      logger: silentLogger,
      settings: {
        chunkSize: 60,
        chunkOverlap: 10,
        leaseMs: 60_000,
        maxDocumentBytes: 1 << 20,
        ...(maxSameWriteFailures !== undefined ? { maxSameWriteFailures } : {}),
      },
      newRunId: () => `run-${++run}`,
    };
    return { deps, status };
  };
  const attempt = (deps: PipelineDeps) =>
    runDocument(deps, { documentId: 'poison', action: 'process_document' }).then(
      () => undefined,
      (e: unknown) => e as GraphmillError,
    );

  it('fails permanently as repeated_failure on the third attempt, saying why', async () => {
    const graph = failingWriter(serverWentAway);
    const { deps, status } = setup(graph);
    await status.register({ id: 'poison', source: 'inline:', content: 'Some text. '.repeat(40) }, 0);

    const first = await attempt(deps);
    expect(first?.code).toBe('dependency_unavailable');
    expect(first?.retryable).toBe(true);
    expect((await status.get('poison'))?.error).toMatchObject({ repeats: 1, retryable: true });
    const second = await attempt(deps);
    expect(second?.retryable).toBe(true);
    expect((await status.get('poison'))?.error).toMatchObject({ repeats: 2 });

    const third = await attempt(deps);
    expect(third?.code).toBe('repeated_failure');
    expect(third?.retryable).toBe(false);
    expect(third?.message).toMatch(/failed the same way on 3 attempts in a row/);
    expect(third?.message).toMatch(/dependency_unavailable: Neo4j is unavailable/);
    const record = await status.get('poison');
    expect(record?.status).toBe('failed');
    expect(record?.error).toMatchObject({ code: 'repeated_failure', retryable: false, repeats: 3 });
    expect(graph.writes).toBe(3);
  });

  it('honours MAX_SAME_WRITE_FAILURES', async () => {
    const { deps, status } = setup(failingWriter(serverWentAway), 1);
    await status.register({ id: 'poison', source: 'inline:', content: 'Text.' }, 0);
    expect((await attempt(deps))?.code).toBe('repeated_failure');
  });

  it('keeps retrying an outage that refuses the connection: no statement ran', async () => {
    const graph = failingWriter(connectionRefused);
    const { deps, status } = setup(graph);
    await status.register({ id: 'poison', source: 'inline:', content: 'Some text.' }, 0);
    for (let i = 0; i < 5; i++) {
      const e = await attempt(deps);
      expect(e?.code).toBe('dependency_unavailable');
      expect(e?.retryable).toBe(true);
    }
    expect((await status.get('poison'))?.error?.repeats).toBeUndefined();
  });

  it('starts counting again after a success, or after a different failure', async () => {
    const graph = failingWriter(serverWentAway);
    const { deps, status } = setup(graph);
    await status.register({ id: 'poison', source: 'inline:', content: 'First text.' }, 0);
    await attempt(deps);
    await attempt(deps);
    graph.failing = false;
    expect(await attempt(deps)).toBeUndefined(); // completed: the error is cleared
    graph.failing = true;
    await status.register({ id: 'poison', source: 'inline:', content: 'Second text.' }, 0);
    await attempt(deps);
    expect((await status.get('poison'))?.error).toMatchObject({ repeats: 1, retryable: true });
  });

  it('a poison document replayed by hand fails permanently again at its first repeat', async () => {
    const graph = failingWriter(serverWentAway);
    const { deps, status } = setup(graph);
    await status.register({ id: 'poison', source: 'inline:', content: 'Some text.' }, 0);
    for (let i = 0; i < 3; i++) await attempt(deps);
    expect((await status.get('poison'))?.error?.code).toBe('repeated_failure');
    const replayed = await attempt(deps);
    expect(replayed?.code).toBe('repeated_failure');
    expect(graph.writes).toBe(4);
  });
});
