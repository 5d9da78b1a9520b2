/**
 * Run by the cold-start suite in a fresh `node` process: `node coldstart-child.js <module> <name> [--modules]`.
 *
 * "Ready to serve" = the functions framework is loaded, the entrypoint module is required (it registers its
 * function), `getTestServer(name)` built the framework's server for it, and that server is listening on
 * 127.0.0.1:0. That is the point where Cloud Run's startup probe (a TCP connect to $PORT) succeeds. The
 * first request is not part of it: entrypoints build their dependencies lazily on the first request, which
 * is first-request latency, not import.
 *
 * After "ready", the entrypoint's `wiring.js` (what it builds lazily on the first request) is required and
 * timed separately, so the cost that lazy loading defers is visible too.
 *
 * Prints one JSON line: milliseconds since the process started (performance.timeOrigin) at each step, and the
 * process's CPU time (user + system, all threads) when ready. With
 * --modules it also reports every loaded module grouped by package, with file sizes and the time spent
 * loading each package's own files (exclusive of the packages they require); that instrumentation slows
 * loading down, so those runs are not timed.
 */
import { existsSync } from 'node:fs';
import Module = require('node:module');
import * as path from 'node:path';
import { groupByPackage, packageOf, type PackageLoad } from './packages';

const scriptStartMs = performance.now();

function instrumentLoads(): Map<string, PackageLoad> {
  const loads = new Map<string, PackageLoad>();
  type Load = (request: string, parent: unknown, isMain: boolean) => unknown;
  const M = Module as unknown as {
    _load: Load;
    _resolveFilename: (r: string, p: unknown, m: boolean) => string;
  };
  const original = M._load;
  const stack: { pkg: string; start: number; child: number }[] = [];
  M._load = function (request: string, parent: unknown, isMain: boolean): unknown {
    let file: string | undefined;
    try {
      file = M._resolveFilename(request, parent, isMain);
    } catch {
      file = undefined;
    }
    if (file === undefined || !path.isAbsolute(file) || require.cache[file]) {
      return original.call(this, request, parent, isMain); // built-in, cached or failing: not a load
    }
    const frame = { pkg: packageOf(file), start: performance.now(), child: 0 };
    stack.push(frame);
    try {
      return original.call(this, request, parent, isMain);
    } finally {
      stack.pop();
      const elapsed = performance.now() - frame.start;
      const entry = loads.get(frame.pkg) ?? { modules: 0, bytes: 0, selfMs: 0 };
      entry.selfMs += elapsed - frame.child;
      loads.set(frame.pkg, entry);
      const parentFrame = stack.at(-1);
      if (parentFrame) parentFrame.child += elapsed;
    }
  };
  return loads;
}

async function main(): Promise<void> {
  const [modulePath, name, flag] = process.argv.slice(2);
  if (!modulePath || !name) throw new Error('usage: coldstart-child <module> <function name> [--modules]');
  const profile = flag === '--modules';
  const loads = profile ? instrumentLoads() : undefined;

  // Registered names, for entrypoints whose function name differs from their folder name.
  const registered: string[] = [];
  if (profile) {
    // Not exported by the package: required by its file path, which is the same module instance.
    const main = require.resolve('@google-cloud/functions-framework');
    const registry = require(path.join(path.dirname(main), 'function_registry.js')) as Record<
      string,
      (n: string, h: unknown) => void
    >;
    for (const kind of ['http', 'cloudEvent'] as const) {
      const original = registry[kind];
      if (original) {
        registry[kind] = (n: string, h: unknown) => {
          registered.push(n);
          original(n, h);
        };
      }
    }
  }
  const testing =
    require('@google-cloud/functions-framework/testing') as typeof import('@google-cloud/functions-framework/testing');
  const frameworkMs = performance.now();
  require(path.resolve(modulePath));
  const importedMs = performance.now();
  const target = registered.includes(name) || registered.length === 0 ? name : (registered[0] as string);
  const server = testing.getTestServer(target);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const readyMs = performance.now();
  const cpu = process.cpuUsage();
  const readyCpuMs = (cpu.user + cpu.system) / 1000;

  const maxRssKiB = process.resourceUsage().maxRSS;
  const readyFiles = Object.keys(require.cache);
  const readyLoads = new Map(
    [...(loads ?? new Map<string, PackageLoad>()).entries()].map(([k, v]) => [k, { ...v }]),
  );

  // What the entrypoint defers to its first request: its wiring module (built lazily by design). Loading it
  // opens no connection; building the dependencies from it would, so that is not done here.
  const wiring = path.join(path.dirname(path.resolve(modulePath)), 'wiring.js');
  let deferredMs: number | undefined;
  let deferredCpuMs: number | undefined;
  if (existsSync(wiring)) {
    const t = performance.now();
    const c0 = process.cpuUsage();
    require(wiring);
    const c = process.cpuUsage(c0);
    deferredMs = performance.now() - t;
    deferredCpuMs = (c.user + c.system) / 1000;
  }

  const out: Record<string, unknown> = {
    name: target,
    registered,
    scriptStartMs,
    frameworkMs,
    importedMs,
    readyMs,
    readyCpuMs,
    maxRssKiB,
    deferredMs,
    deferredCpuMs,
  };
  if (loads) {
    const ready = new Set(readyFiles);
    out['packages'] = groupByPackage(readyFiles, (pkg) => readyLoads.get(pkg)?.selfMs ?? 0);
    out['deferredPackages'] = groupByPackage(
      Object.keys(require.cache).filter((f) => !ready.has(f)),
      (pkg) => (loads.get(pkg)?.selfMs ?? 0) - (readyLoads.get(pkg)?.selfMs ?? 0),
    );
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  server.close();
  // Whatever the entrypoint left open (it should be nothing), the measurement is done.
  process.exit(0);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
