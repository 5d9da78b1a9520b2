import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { NewDocument } from '../shared/status';

const SKIP_DIRS = new Set(['node_modules', '.git', '.graphmill', 'dist']);

/**
 * Expands files and directories (recursively, skipping hidden and build folders) into file paths. Directory
 * entries carry their type, so only symbolic links (and the arguments themselves) need a stat.
 */
export async function expandPaths(args: readonly string[], cwd: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (path: string, explicit: boolean, known?: Dirent): Promise<void> => {
    const info = known && !known.isSymbolicLink() ? known : await stat(path);
    if (info.isDirectory()) {
      if (!explicit && (SKIP_DIRS.has(basename(path)) || basename(path).startsWith('.'))) return;
      const entries = await readdir(path, { withFileTypes: true });
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) await visit(join(path, e.name), false, e);
    } else if (info.isFile()) {
      if (!explicit && basename(path).startsWith('.')) return;
      out.push(path);
    }
  };
  for (const a of args) await visit(resolve(cwd, a), true);
  return [...new Set(out)];
}

/** The deepest directory containing every path: the confinement root for files named on the command line. */
export function commonRoot(paths: readonly string[], cwd: string): string {
  if (paths.length === 0) return cwd;
  let root = dirname(paths[0] as string);
  for (const p of paths) {
    while (!p.startsWith(root.endsWith(sep) ? root : root + sep)) {
      const up = dirname(root);
      if (up === root) return root;
      root = up;
    }
  }
  return root;
}

/** A document for a file: its id is the path relative to the root, with forward slashes. */
export function fileDocument(path: string, root: string, batchId?: string): NewDocument {
  const id = relative(root, path).split(sep).join('/');
  return {
    id,
    source: pathToFileURL(path).href,
    title: basename(path),
    ...(batchId !== undefined ? { batchId } : {}),
  };
}

const REMOTE = /^(https|gs):\/\//i;

/** Arguments that name remote documents (`https://...`, `gs://bucket/object`) rather than local paths. */
export const isRemoteSource = (arg: string): boolean => REMOTE.test(arg);

/** Hex characters of the query's SHA-256 kept in an id: 64 bits, no collision among one source's URLs. */
const QUERY_HASH_CHARS = 16;
const MAX_ID_LENGTH = 256;

/**
 * A document for a remote source: its id is the URL without the scheme, with characters a document id
 * cannot hold replaced by `_`. A query string is kept only as a hash (`host/path?q=<16 hex of its
 * SHA-256>`, so `host/path_q_<hash>`): a signed URL's query is a credential, and the id is shown
 * everywhere (status, errors, logs, the graph). The same URL always gets the same id, and two URLs that
 * differ only in their query stay distinct. The source keeps the URL whole: the fetcher needs it.
 */
export function remoteDocument(url: string, batchId?: string): NewDocument {
  const parsed = new URL(url);
  const query =
    parsed.search === ''
      ? ''
      : `?q=${createHash('sha256').update(parsed.search.slice(1)).digest('hex').slice(0, QUERY_HASH_CHARS)}`;
  const sanitize = (s: string): string => s.replace(/[^A-Za-z0-9._:@/-]/g, '_');
  const suffix = sanitize(query);
  const id =
    sanitize(`${parsed.host}${parsed.pathname}`)
      .replace(/^\/+/, '')
      .slice(0, MAX_ID_LENGTH - suffix.length) + suffix;
  const title = decodeURIComponent(parsed.pathname.split('/').filter(Boolean).at(-1) ?? parsed.host);
  return { id, source: parsed.href, title, ...(batchId !== undefined ? { batchId } : {}) };
}
