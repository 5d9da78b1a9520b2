/** Loaded modules grouped by npm package (cold-start module lists). */
import { statSync } from 'node:fs';
import * as path from 'node:path';

export interface PackageLoad {
  modules: number;
  bytes: number;
  /** Time spent loading the package's own files, exclusive of the packages they require (ms). */
  selfMs: number;
}

/** node_modules/<pkg> or node_modules/@scope/pkg of a file; "(app)" for the project's own files. */
export function packageOf(file: string): string {
  const parts = file.split(path.sep);
  const i = parts.lastIndexOf('node_modules');
  if (i < 0) return '(app)';
  const first = parts[i + 1] ?? '';
  return first.startsWith('@') ? `${first}/${parts[i + 2] ?? ''}` : first;
}

/** Module count, file size and load time per package, heaviest (by load time) first. */
export function groupByPackage(
  files: readonly string[],
  selfMs: (pkg: string) => number,
): Record<string, PackageLoad> {
  const byPackage = new Map<string, PackageLoad>();
  for (const file of files) {
    const pkg = packageOf(file);
    const entry = byPackage.get(pkg) ?? { modules: 0, bytes: 0, selfMs: selfMs(pkg) };
    entry.modules++;
    try {
      entry.bytes += statSync(file).size;
    } catch {
      // a module without a file
    }
    byPackage.set(pkg, entry);
  }
  return Object.fromEntries([...byPackage.entries()].sort((a, b) => b[1].selfMs - a[1].selfMs));
}
