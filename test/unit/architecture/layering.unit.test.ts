/**
 * The layering rule (eslint.config.mjs): the core (use cases, pipeline, transitions, ports) imports ports,
 * never an adapter, the composition root or the technology behind an adapter. Checked on a probe (the rule
 * must fire) and on the tree (nothing in the core breaks it, `require` included, which the rule cannot see).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const CORE = [
  'usecases',
  'pipeline',
  'status',
  'batches',
  'dlq',
  'tracking',
  'chunking',
  'documents',
  'events',
  'ports',
];

function tsFiles(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out = out.concat(tsFiles(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

it('refuses an adapter import in the core', () => {
  // eslint as a user runs it (its config is an ES module, which jest's module system cannot load).
  const res = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js'),
      '--stdin',
      '--stdin-filename',
      join('shared', 'pipeline', 'process-document.ts'),
      '--format',
      'json',
    ],
    {
      cwd: ROOT,
      encoding: 'utf8',
      input:
        "import { makeNeo4jGraphWriter } from '../adapters/neo4j/graph-writer';\nexport const w = makeNeo4jGraphWriter;\n",
    },
  );
  const [result] = JSON.parse(res.stdout) as { messages: { ruleId: string | null }[] }[];
  expect(result?.messages.map((m) => m.ruleId)).toContain('no-restricted-imports');
}, 60_000);

it('no core file imports or requires an adapter, the composition root or an adapter technology', () => {
  const offending: string[] = [];
  for (const folder of CORE) {
    for (const file of tsFiles(join(ROOT, 'shared', folder))) {
      const text = readFileSync(file, 'utf8');
      const specs = [...text.matchAll(/(?:from|require\()\s*'([^']+)'/g)].map((m) => m[1] as string);
      for (const spec of specs) {
        if (
          /(^|\/)(adapters|runtime)\//.test(spec) ||
          /^(neo4j-driver|@google-cloud\/|node:sqlite$|express$|winston$)/.test(spec)
        ) {
          offending.push(`${relative(ROOT, file)} -> ${spec}`);
        }
      }
    }
  }
  expect(offending).toEqual([]);
});
