/**
 * The raw baseline as a process of its own, for the context row of the end-to-end comparison: what a
 * script written without graphmill would do for the same directory. It reads every file, cuts it with
 * graphmill's chunker at the same settings, writes with RAW_WRITE (whole documents in large transactions,
 * sessions in parallel) and exits: no state, no content hash, no schema, no orchestration. The same compile
 * cache as the CLI's, so that both processes start alike.
 *
 *   node dist/bench/raw-child.js <dir> <chunksPerTx> <sessions>     (NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { join } from 'node:path';
import type { BenchDocument } from './writers';

// Before anything heavy is loaded, as bin/graphmill.js does: the modules below are required lazily for that.
enableCompileCache();

async function main(): Promise<void> {
  const neo4j = (require('neo4j-driver') as typeof import('neo4j-driver')).default;
  const { chunkText } = require('../shared/chunking') as typeof import('../shared/chunking');
  const { writeRaw } = require('./raw') as typeof import('./raw');
  const [dir, chunksPerTx, sessions] = process.argv.slice(2);
  if (!dir || !chunksPerTx || !sessions) throw new Error('usage: raw-child <dir> <chunksPerTx> <sessions>');
  const chunking = { chunkSize: 1000, chunkOverlap: 200 };
  const docs: BenchDocument[] = readdirSync(dir)
    .sort()
    .map((name) => ({
      meta: {
        id: name,
        title: name,
        source: `file://${join(dir, name)}`,
        contentHash: 'sha256:-',
        ...chunking,
      },
      chunks: chunkText(readFileSync(join(dir, name), 'utf8'), chunking),
    }));
  const driver = neo4j.driver(
    process.env['NEO4J_URI'] ?? '',
    neo4j.auth.basic(process.env['NEO4J_USERNAME'] ?? 'neo4j', process.env['NEO4J_PASSWORD'] ?? ''),
  );
  try {
    await writeRaw(driver, docs, { chunksPerTx: Number(chunksPerTx), sessions: Number(sessions) });
  } finally {
    await driver.close();
  }
  process.stdout.write(`${JSON.stringify({ documents: docs.length })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
