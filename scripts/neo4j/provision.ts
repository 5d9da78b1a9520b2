/**
 * Provisions a Neo4j for development and tests, in this order:
 *  (a) NEO4J_URI / NEO4J_USERNAME / NEO4J_PASSWORD from the environment, if that server answers;
 *  (b) the server recorded in <stateDir>/neo4j.env, if it answers;
 *  (c) a local server started here: the Neo4j Community standalone tarball from Maven Central when it can
 *      be had (checksum-verified), else the embedded-DBMS launcher in scripts/neo4j/launcher built with
 *      Maven; either way run by graphmill.neo4j.Launcher on 127.0.0.1 with a random password;
 *  (d) Docker (neo4j:5.26-community), only when (c) is impossible because java/mvn are missing.
 *
 * Layout of <stateDir> (default ./.graphmill, gitignored):
 *   neo4j.env                     NEO4J_URI/NEO4J_USERNAME/NEO4J_PASSWORD of the server started here (0600)
 *   neo4j/neo4j.pid, neo4j.log    pid and stdout/stderr of the local server
 *   neo4j/server.json             how it was started (port, classpath), for restarts; no password
 *   neo4j/data/                   Neo4j home: data/ and logs/ (persists across restarts)
 *   neo4j/launcher-<v>-<hash>/    built launcher classpath (cache); neo4j/standalone-<v>/ unpacked tarball
 *   neo4j/docker-container        container name when (d) was used
 *
 * The password is passed to the server through its environment only (never argv, which `ps` shows), and
 * is never logged.
 */
import { parseEnvFile } from '../../shared/config/env-file';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import neo4j from 'neo4j-driver';

export type Log = (line: string) => void;

export interface Neo4jConnection {
  uri: string;
  username: string;
  password: string;
}

export type Neo4jSource = 'env' | 'file' | 'local' | 'docker';

export interface ResolvedNeo4j extends Neo4jConnection {
  source: Neo4jSource;
  /** True when this call started the server (so the caller may stop it with stopNeo4j). */
  startedHere: boolean;
}

export interface ProvisionOptions {
  /** Default: `.graphmill` under the current working directory. */
  stateDir?: string;
  /** Environment to read NEO4J_* from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  log?: Log;
  /** Bound on starting a local server (build excluded). Default 180 s. */
  startTimeoutMs?: number;
}

interface ServerRecord {
  kind: 'local' | 'docker';
  port: number;
  /** local: java arguments after the JVM options (-cp … main). */
  javaArgs?: string[];
  container?: string;
}

const USERNAME = 'neo4j';
const READY_MARKER = 'graphmill-neo4j ready';
const LAUNCHER_MAIN = 'graphmill.neo4j.Launcher';
const DEFAULT_HEAP = '640m';
const DEFAULT_START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 60_000;
const MAVEN_CENTRAL = 'https://repo1.maven.org/maven2';
const DOCKER_IMAGE = 'neo4j:5.26-community';

export const defaultLog: Log = (line) => {
  process.stderr.write(`[neo4j] ${line}\n`);
};

export function defaultStateDir(): string {
  return path.resolve('.graphmill');
}

interface Paths {
  stateDir: string;
  dir: string;
  envFile: string;
  pidFile: string;
  logFile: string;
  serverFile: string;
  containerFile: string;
  lockFile: string;
  home: string;
}

function paths(stateDir: string = defaultStateDir()): Paths {
  const abs = path.resolve(stateDir);
  const dir = path.join(abs, 'neo4j');
  return {
    stateDir: abs,
    dir,
    envFile: path.join(abs, 'neo4j.env'),
    pidFile: path.join(dir, 'neo4j.pid'),
    logFile: path.join(dir, 'neo4j.log'),
    serverFile: path.join(dir, 'server.json'),
    containerFile: path.join(dir, 'docker-container'),
    lockFile: path.join(dir, 'provision.lock'),
    home: path.join(dir, 'data'),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Public API

export async function resolveNeo4j(opts: ProvisionOptions = {}): Promise<ResolvedNeo4j> {
  const log = opts.log ?? defaultLog;
  const env = opts.env ?? process.env;
  const p = paths(opts.stateDir);

  const fromEnv = connectionFromEnv(env);
  if (fromEnv) {
    const problem = await checkConnection(fromEnv);
    if (!problem) return { ...fromEnv, source: 'env', startedHere: false };
    log(`NEO4J_URI=${fromEnv.uri} from the environment does not answer (${problem}); trying the next option`);
  }

  fs.mkdirSync(p.dir, { recursive: true });
  return withLock(p, log, async () => {
    let fromFile: Neo4jConnection | undefined;
    try {
      fromFile = readNeo4jEnvFile(p.stateDir);
    } catch (e) {
      log(`ignoring ${p.envFile}: ${(e as Error).message}`);
    }
    if (fromFile) {
      const problem = await checkConnection(fromFile);
      if (!problem) return { ...fromFile, source: 'file', startedHere: false };
      log(`${fromFile.uri} from ${p.envFile} does not answer (${problem}); starting a new server`);
      await stopNeo4j(p.stateDir, { log, quiet: true });
    } else if (readPid(p.pidFile) !== undefined || fs.existsSync(p.containerFile)) {
      await stopNeo4j(p.stateDir, { log, quiet: true });
    }

    const password = randomBytes(24).toString('base64url');
    const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    if (hasCommand('java', ['-version'])) {
      const javaArgs = await ensureLocalServer(p.dir, log);
      if (javaArgs) {
        const port = await freePort();
        writeJson(p.serverFile, { kind: 'local', port, javaArgs } satisfies ServerRecord);
        const conn = await startLocal(p, { port, password, javaArgs }, timeoutMs, log);
        writeEnvFile(p.envFile, conn);
        return { ...conn, source: 'local', startedHere: true };
      }
    }
    if (hasCommand('docker', ['info'])) {
      log('java/mvn unavailable: starting Neo4j in Docker');
      const conn = await startDocker(p, password, timeoutMs, log);
      writeEnvFile(p.envFile, conn);
      return { ...conn, source: 'docker', startedHere: true };
    }
    throw new Error(
      'No Neo4j available: NEO4J_URI is not set (or does not answer), no server is recorded in ' +
        `${p.envFile}, and a local one cannot be started (needs java 17+ and mvn, or a working Docker).`,
    );
  });
}

/** Stops the server that resolveNeo4j started under stateDir (local process or Docker container). */
export async function stopNeo4j(
  stateDir: string = defaultStateDir(),
  opts: { log?: Log; quiet?: boolean } = {},
): Promise<boolean> {
  const log = opts.log ?? defaultLog;
  const p = paths(stateDir);
  let stopped = false;

  const container = readText(p.containerFile)?.trim();
  if (container) {
    log(`removing Docker container ${container}`);
    spawnSync('docker', ['rm', '-f', container], { stdio: 'ignore', timeout: STOP_TIMEOUT_MS });
    fs.rmSync(p.containerFile, { force: true });
    stopped = true;
  }

  const pid = readPid(p.pidFile);
  if (pid !== undefined && isOurServer(pid)) {
    log(`stopping local Neo4j (pid ${pid})`);
    await terminate(pid, 'SIGTERM', STOP_TIMEOUT_MS, log);
    stopped = true;
  }
  fs.rmSync(p.pidFile, { force: true });
  fs.rmSync(p.envFile, { force: true });
  if (!stopped && !opts.quiet) log(`no local Neo4j is running (nothing recorded in ${p.dir})`);
  return stopped;
}

/**
 * Kills the local server with `signal` (default SIGKILL: a crash) and waits until it is gone, keeping its
 * data dir, port and password for restartLocalNeo4j. For fault tests.
 */
export async function killLocalNeo4j(
  signal: NodeJS.Signals = 'SIGKILL',
  opts: { stateDir?: string; log?: Log } = {},
): Promise<void> {
  const log = opts.log ?? defaultLog;
  const p = paths(opts.stateDir);
  const record = readJson<ServerRecord>(p.serverFile);
  if (record?.kind === 'docker' && record.container) {
    spawnSync('docker', ['kill', '--signal', signal, record.container], { stdio: 'ignore' });
    return;
  }
  const pid = readPid(p.pidFile);
  if (pid === undefined || !isOurServer(pid)) throw new Error(`no local Neo4j running under ${p.dir}`);
  await terminate(pid, signal, STOP_TIMEOUT_MS, log);
  fs.rmSync(p.pidFile, { force: true });
}

/**
 * Kills the local server (SIGKILL unless told otherwise) and starts it again on the same port, data dir and
 * password; resolves when it answers.
 */
export async function restartLocalNeo4j(
  opts: { stateDir?: string; log?: Log; signal?: NodeJS.Signals; startTimeoutMs?: number } = {},
): Promise<Neo4jConnection> {
  const log = opts.log ?? defaultLog;
  const p = paths(opts.stateDir);
  const record = readJson<ServerRecord>(p.serverFile);
  const conn = readNeo4jEnvFile(p.stateDir);
  if (!record || !conn) throw new Error(`no local Neo4j was started under ${p.dir}`);
  const pid = readPid(p.pidFile);
  if (pid !== undefined && isOurServer(pid)) {
    await terminate(pid, opts.signal ?? 'SIGKILL', STOP_TIMEOUT_MS, log);
  }
  const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  if (record.kind === 'docker' && record.container) {
    spawnSync('docker', ['start', record.container], { stdio: 'ignore' });
    await waitAnswering(conn, timeoutMs, () => undefined);
    return conn;
  }
  if (!record.javaArgs) throw new Error(`${p.serverFile} is incomplete`);
  return startLocal(
    p,
    { port: record.port, password: conn.password, javaArgs: record.javaArgs },
    timeoutMs,
    log,
  );
}

/** Parses <stateDir>/neo4j.env; undefined when the file does not exist. */
export function readNeo4jEnvFile(stateDir: string = defaultStateDir()): Neo4jConnection | undefined {
  const file = paths(stateDir).envFile;
  const text = readText(file);
  if (text === undefined) return undefined;
  const vars = parseEnvFile(text);
  const conn = connectionFromEnv(vars);
  if (!conn) throw new Error(`${file} lacks NEO4J_URI or NEO4J_PASSWORD`);
  return conn;
}

/** One line per thing it knows of, saying whether it answers. */
export async function neo4jStatus(
  opts: { stateDir?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ answering: boolean; lines: string[] }> {
  const p = paths(opts.stateDir);
  const lines: string[] = [];
  let answering = false;
  const describe = async (label: string, conn: Neo4jConnection): Promise<void> => {
    const problem = await checkConnection(conn);
    answering ||= !problem;
    lines.push(`${label}: ${conn.uri} ${problem ? `does not answer (${problem})` : 'answers'}`);
  };
  const fromEnv = connectionFromEnv(opts.env ?? process.env);
  if (fromEnv) await describe('environment NEO4J_URI', fromEnv);
  const fromFile = readNeo4jEnvFile(p.stateDir);
  if (fromFile) await describe(p.envFile, fromFile);
  const pid = readPid(p.pidFile);
  if (pid !== undefined) {
    lines.push(`local server pid ${pid}: ${isOurServer(pid) ? 'running' : 'not running (stale pid file)'}`);
  }
  const container = readText(p.containerFile)?.trim();
  if (container) lines.push(`Docker container: ${container}`);
  if (lines.length === 0) lines.push('no Neo4j configured or running');
  return { answering, lines };
}

// ---------------------------------------------------------------------------------------------------------
// Connections

function connectionFromEnv(env: Record<string, string | undefined>): Neo4jConnection | undefined {
  const uri = env['NEO4J_URI'];
  const password = env['NEO4J_PASSWORD'];
  if (!uri || password === undefined) return undefined;
  return { uri, username: env['NEO4J_USERNAME'] || USERNAME, password };
}

/** undefined when the server answers with these credentials, else a short reason. */
export async function checkConnection(conn: Neo4jConnection, timeoutMs = 5000): Promise<string | undefined> {
  const driver = neo4j.driver(conn.uri, neo4j.auth.basic(conn.username, conn.password), {
    connectionTimeout: timeoutMs,
    connectionAcquisitionTimeout: timeoutMs,
    maxConnectionPoolSize: 1,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      driver.verifyConnectivity(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return undefined;
  } catch (e) {
    const err = e as { code?: unknown; message?: unknown };
    const code = typeof err.code === 'string' && err.code ? `${err.code}: ` : '';
    return `${code}${String(err.message ?? e)}`.split('\n')[0];
  } finally {
    clearTimeout(timer);
    await driver.close().catch(() => undefined);
  }
}

async function waitAnswering(
  conn: Neo4jConnection,
  timeoutMs: number,
  failIfDead: () => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let problem: string | undefined = 'not tried';
  while (Date.now() < deadline) {
    failIfDead();
    problem = await checkConnection(conn, 3000);
    if (!problem) return;
    await sleep(1000);
  }
  throw new Error(`Neo4j at ${conn.uri} did not answer within ${timeoutMs / 1000} s (${problem})`);
}

// ---------------------------------------------------------------------------------------------------------
// Local server: distribution (standalone tarball or Maven-built launcher), start, stop

/** `-cp … main` arguments for java, or undefined if neither distribution can be had. */
async function ensureLocalServer(dir: string, log: Log): Promise<string[] | undefined> {
  const launcherDir = findLauncherDir();
  const pom = fs.readFileSync(path.join(launcherDir, 'pom.xml'), 'utf8');
  const version = /<neo4j\.version>([^<]+)<\/neo4j\.version>/.exec(pom)?.[1]?.trim();
  if (!version) throw new Error(`no <neo4j.version> in ${launcherDir}/pom.xml`);
  const source = path.join(launcherDir, 'src/main/java/graphmill/neo4j/Launcher.java');
  const hash = createHash('sha256').update(pom).update(fs.readFileSync(source)).digest('hex').slice(0, 10);

  const standalone = path.join(dir, `standalone-${version}`);
  const launcher = path.join(dir, `launcher-${version}-${hash}`);
  // The tarball ships the same server jars; the launcher source runs against them in java's source-file mode.
  const standaloneArgs = ['-cp', path.join(standalone, 'lib', '*'), source];
  const launcherArgs = ['-cp', path.join(launcher, 'lib', '*'), LAUNCHER_MAIN];

  if (fs.existsSync(path.join(standalone, '.complete'))) return standaloneArgs;
  if (fs.existsSync(path.join(launcher, '.complete'))) return launcherArgs;
  if (await fetchStandalone(version, standalone, log)) return standaloneArgs;
  if (!hasCommand('mvn', ['-v'])) {
    log('mvn not found: cannot build the Neo4j launcher');
    return undefined;
  }
  await buildLauncher(launcherDir, launcher, version, log);
  return launcherArgs;
}

function findLauncherDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'scripts', 'neo4j', 'launcher');
    if (fs.existsSync(path.join(candidate, 'pom.xml'))) return candidate;
    if (path.dirname(dir) === dir)
      throw new Error(`scripts/neo4j/launcher/pom.xml not found above ${__dirname}`);
  }
}

/** Downloads, verifies and unpacks neo4j-community-standalone; false when it cannot be had. */
async function fetchStandalone(version: string, target: string, log: Log): Promise<boolean> {
  const base = process.env['GRAPHMILL_MAVEN_REPOSITORY'] ?? MAVEN_CENTRAL;
  const name = `neo4j-community-standalone-${version}-unix.tar.gz`;
  const url = `${base}/org/neo4j/assembly/neo4j-community-standalone/${version}/${name}`;
  const tmp = `${target}.tmp-${process.pid}`;
  const abort = new AbortController();
  // 30 s to get an answer at all, 10 min for the whole download.
  let timer = setTimeout(() => abort.abort(), 30_000);
  try {
    const res = await fetch(url, { signal: abort.signal });
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(), 600_000);
    if (!res.ok || !res.body) {
      log(
        `Neo4j standalone tarball ${version} not on Maven Central (HTTP ${res.status}); using the launcher`,
      );
      return false;
    }
    let expected: { algo: string; hex: string } | undefined;
    for (const algo of ['sha512', 'sha1']) {
      const sum = await fetch(`${url}.${algo}`, { signal: AbortSignal.timeout(30_000) });
      const hex = sum.ok ? /^[0-9a-f]+/i.exec((await sum.text()).trim())?.[0] : undefined;
      if (hex) {
        expected = { algo, hex: hex.toLowerCase() };
        break;
      }
    }
    if (!expected) throw new Error('no .sha512/.sha1 checksum next to it');
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const archive = path.join(tmp, name);
    log(`downloading ${url}`);
    const hasher = createHash(expected.algo);
    const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    body.on('data', (chunk: Buffer) => hasher.update(chunk));
    await pipeline(body, fs.createWriteStream(archive));
    const actual = hasher.digest('hex');
    if (actual !== expected.hex)
      throw new Error(`${expected.algo} mismatch: got ${actual}, want ${expected.hex}`);
    const tar = spawnSync('tar', ['-xzf', archive, '-C', tmp, '--strip-components=1'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
    fs.rmSync(archive);
    fs.writeFileSync(path.join(tmp, '.complete'), `${url}\n${expected.algo} ${expected.hex}\n`);
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(tmp, target);
    return true;
  } catch (e) {
    log(`Neo4j standalone tarball ${version} unusable (${(e as Error).message}); using the launcher`);
    fs.rmSync(tmp, { recursive: true, force: true });
    return false;
  } finally {
    clearTimeout(timer);
  }
}

async function buildLauncher(launcherDir: string, target: string, version: string, log: Log): Promise<void> {
  const tmp = `${target}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const lib = path.join(tmp, 'lib');
  const mavenLog = path.join(tmp, 'maven.log');
  log(`building the Neo4j ${version} launcher with Maven (first run only; downloads ~125 MB) into ${target}`);
  const started = Date.now();
  const args = [
    '-q',
    '-B',
    '-C',
    '-f',
    path.join(launcherDir, 'pom.xml'),
    `-Dgraphmill.build.dir=${path.join(tmp, 'build')}`,
    `-DoutputDirectory=${lib}`,
    '-DincludeScope=runtime',
    'package',
    'dependency:copy-dependencies',
  ];
  const out = fs.openSync(mavenLog, 'w');
  let code: number | null;
  try {
    code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('mvn', args, { stdio: ['ignore', out, out] });
      child.on('error', reject);
      child.on('exit', (c) => resolve(c));
    });
  } finally {
    fs.closeSync(out);
  }
  if (code !== 0) {
    const tail = tailOf(mavenLog, 0, 40);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`Maven build of the Neo4j launcher failed (exit ${code}):\n${tail}`);
  }
  fs.copyFileSync(
    path.join(tmp, 'build', 'graphmill-neo4j-launcher.jar'),
    path.join(lib, 'graphmill-neo4j-launcher.jar'),
  );
  fs.rmSync(path.join(tmp, 'build'), { recursive: true, force: true });
  fs.writeFileSync(path.join(tmp, '.complete'), `neo4j ${version}\n`);
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(tmp, target);
  for (const old of fs.readdirSync(path.dirname(target))) {
    if (/^launcher-.+-[0-9a-f]{10}$/.test(old) && old !== path.basename(target)) {
      fs.rmSync(path.join(path.dirname(target), old), { recursive: true, force: true });
    }
  }
  log(`built the Neo4j launcher in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function startLocal(
  p: Paths,
  server: { port: number; password: string; javaArgs: string[] },
  timeoutMs: number,
  log: Log,
): Promise<Neo4jConnection> {
  const heap = process.env['GRAPHMILL_NEO4J_HEAP'] ?? DEFAULT_HEAP;
  const jvm = [
    `-Xms${heap}`,
    `-Xmx${heap}`,
    '-XX:+UseG1GC',
    '-XX:+ExitOnOutOfMemoryError',
    '-XX:-OmitStackTraceInFastThrow',
    '-Djava.awt.headless=true',
    '-Dfile.encoding=UTF-8',
    '-Djdk.nio.maxCachedBufferSize=1024',
    '-Dio.netty.tryReflectionSetAccessible=true',
    '-Dlog4j2.disable.jmx=true',
    '--add-opens=java.base/java.nio=ALL-UNNAMED',
    '--add-opens=java.base/java.io=ALL-UNNAMED',
    '--add-opens=java.base/sun.nio.ch=ALL-UNNAMED',
  ];
  fs.mkdirSync(p.home, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GRAPHMILL_NEO4J_HOME: p.home,
    GRAPHMILL_NEO4J_BOLT_PORT: String(server.port),
    GRAPHMILL_NEO4J_PASSWORD: server.password,
  };
  delete env['NEO4J_PASSWORD'];

  const logStart = fs.existsSync(p.logFile) ? fs.statSync(p.logFile).size : 0;
  fs.appendFileSync(
    p.logFile,
    `--- ${new Date().toISOString()} starting Neo4j on 127.0.0.1:${server.port}\n`,
  );
  const out = fs.openSync(p.logFile, 'a');
  const child = spawn('java', [...jvm, ...server.javaArgs], {
    detached: true,
    stdio: ['ignore', out, out],
    env,
  });
  fs.closeSync(out);
  let exit: string | undefined;
  child.on('exit', (code, signal) => (exit = signal ? `signal ${signal}` : `exit code ${code}`));
  child.on('error', (e) => (exit = e.message));
  child.unref();
  if (child.pid === undefined) throw new Error('could not spawn java');
  fs.writeFileSync(p.pidFile, `${child.pid}\n`);
  log(`starting Neo4j on bolt://127.0.0.1:${server.port} (pid ${child.pid}, log ${p.logFile})`);

  const conn: Neo4jConnection = {
    uri: `bolt://127.0.0.1:${server.port}`,
    username: USERNAME,
    password: server.password,
  };
  const started = Date.now();
  const deadline = started + timeoutMs;
  try {
    const failIfDead = (): void => {
      if (exit) throw new Error(`Neo4j exited during startup (${exit})`);
    };
    // Wait for the launcher's ready line (it sets the password before printing it) rather than probing Bolt
    // with credentials early, which would count as failed logins.
    while (!readFrom(p.logFile, logStart).includes(READY_MARKER)) {
      failIfDead();
      if (Date.now() > deadline) throw new Error(`Neo4j not ready within ${timeoutMs / 1000} s`);
      await sleep(250);
    }
    await waitAnswering(conn, Math.max(deadline - Date.now(), 10_000), failIfDead);
  } catch (e) {
    if (!exit) await terminate(child.pid, 'SIGKILL', 10_000, log);
    fs.rmSync(p.pidFile, { force: true });
    throw new Error(
      `${(e as Error).message}; last lines of ${p.logFile}:\n${tailOf(p.logFile, logStart, 40)}`,
    );
  }
  log(`Neo4j ready on ${conn.uri} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return conn;
}

async function startDocker(
  p: Paths,
  password: string,
  timeoutMs: number,
  log: Log,
): Promise<Neo4jConnection> {
  const port = await freePort();
  const container = `graphmill-neo4j-${randomBytes(4).toString('hex')}`;
  const run = spawnSync(
    'docker',
    [
      'run',
      '-d',
      '--name',
      container,
      '-p',
      `127.0.0.1:${port}:7687`,
      '-e',
      'NEO4J_AUTH', // value from our environment below, not argv
      '-e',
      'NEO4J_server_memory_pagecache_size=128m',
      '-e',
      'NEO4J_server_memory_heap_max__size=512m',
      // As the local launcher: keep the transaction logs small (Neo4j keeps two days of them by default).
      '-e',
      'NEO4J_db_tx__log_rotation_retention__policy=512M size',
      '-e',
      'NEO4J_db_checkpoint_interval_time=1m',
      DOCKER_IMAGE,
    ],
    { encoding: 'utf8', env: { ...process.env, NEO4J_AUTH: `${USERNAME}/${password}` }, timeout: 600_000 },
  );
  if (run.status !== 0) throw new Error(`docker run ${DOCKER_IMAGE} failed: ${run.stderr}`);
  fs.writeFileSync(p.containerFile, `${container}\n`);
  writeJson(p.serverFile, { kind: 'docker', port, container } satisfies ServerRecord);
  log(`started Docker container ${container} on bolt://127.0.0.1:${port}`);
  const conn: Neo4jConnection = { uri: `bolt://127.0.0.1:${port}`, username: USERNAME, password };
  await waitAnswering(conn, timeoutMs, () => undefined);
  return conn;
}

/** Sends `signal`, waits up to timeoutMs, then SIGKILL; resolves once the process is gone. */
async function terminate(pid: number, signal: NodeJS.Signals, timeoutMs: number, log: Log): Promise<void> {
  const send = (s: NodeJS.Signals): void => {
    try {
      process.kill(pid, s);
    } catch {
      // already gone
    }
  };
  send(signal);
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      log(`pid ${pid} still alive ${timeoutMs / 1000} s after ${signal}; sending SIGKILL`);
      send('SIGKILL');
      for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(100);
      return;
    }
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Small helpers

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped) counts as dead.
  const stat = readText(`/proc/${pid}/stat`);
  return !stat || !/\) Z /.test(stat);
}

/** Alive and (where /proc tells) a java running our launcher, not some other process that reused the pid. */
function isOurServer(pid: number): boolean {
  if (!isAlive(pid)) return false;
  const cmdline = readText(`/proc/${pid}/cmdline`);
  return cmdline === undefined || cmdline.includes(LAUNCHER_MAIN) || cmdline.includes('Launcher.java');
}

function hasCommand(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
  return !r.error && r.status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

/** Serialises provisioning within one state dir (concurrent test runs / CLI). */
async function withLock<T>(p: Paths, log: Log, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 20 * 60_000;
  let announced = false;
  for (;;) {
    try {
      fs.writeFileSync(p.lockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readPid(p.lockFile);
      if (holder === undefined || !isAlive(holder)) {
        fs.rmSync(p.lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${p.lockFile} held by pid ${holder} for too long`);
      if (!announced) log(`waiting for pid ${holder}, which is provisioning Neo4j`);
      announced = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(p.lockFile, { force: true });
  }
}

function writeEnvFile(file: string, conn: Neo4jConnection): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const text = `NEO4J_URI=${conn.uri}\nNEO4J_USERNAME=${conn.username}\nNEO4J_PASSWORD=${conn.password}\n`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function readJson<T>(file: string): T | undefined {
  const text = readText(file);
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function readPid(file: string): number | undefined {
  const pid = Number.parseInt(readText(file)?.trim() ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function readFrom(file: string, offset: number): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(Math.max(0, size - offset));
      fs.readSync(fd, buf, 0, buf.length, offset);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function tailOf(file: string, offset: number, lines: number): string {
  return readFrom(file, offset).trimEnd().split('\n').slice(-lines).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
