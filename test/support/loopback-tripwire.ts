/**
 * Loopback only: no proxy, and a tripwire on net.Socket#connect that refuses (and records) any connection
 * to anything but 127.0.0.1, so even a broken guard or a misconfigured client cannot send traffic out.
 * Call once at the top of a test file; every test then fails if something tried to dial out.
 */
import * as net from 'node:net';

export interface Tripwire {
  /** Connections refused by the tripwire (cleared after each test, which asserts it is empty). */
  readonly tripped: string[];
  /** Loopback connections let through: a test can assert the tripwire sits on the client's real path. */
  loopbackConnects(): number;
}

export function installLoopbackTripwire(): Tripwire {
  const tripped: string[] = [];
  let loopback = 0;
  // The real process environment (jest gives each test file a copy; the HTTP clients read the real one).
  const hostEnv = ((Buffer.constructor as FunctionConstructor)('return process') as () => NodeJS.Process)()
    .env;
  const savedNoProxy = [hostEnv['NO_PROXY'], hostEnv['no_proxy']] as const;
  beforeAll(() => {
    // teeny-request would send through HTTP(S)_PROXY if the environment had one; never for loopback.
    hostEnv['NO_PROXY'] = hostEnv['no_proxy'] = '127.0.0.1';
    const connect = net.Socket.prototype.connect;
    jest.spyOn(net.Socket.prototype, 'connect').mockImplementation(function (
      this: net.Socket,
      ...args: unknown[]
    ) {
      const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
      const host =
        typeof first === 'object' && first !== null ? (first as { host?: string }).host : undefined;
      if (host !== '127.0.0.1') {
        tripped.push(String(host));
        throw new Error(`tripwire: connect to ${String(host)} refused in tests`);
      }
      loopback++;
      return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
    });
  });
  afterAll(() => {
    jest.restoreAllMocks();
    const restore = (key: string, value: string | undefined): void => {
      if (value === undefined) delete hostEnv[key];
      else hostEnv[key] = value;
    };
    restore('NO_PROXY', savedNoProxy[0]);
    restore('no_proxy', savedNoProxy[1]);
  });
  afterEach(() => expect(tripped.splice(0)).toEqual([]));
  return { tripped, loopbackConnects: () => loopback };
}
