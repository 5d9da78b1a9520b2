/**
 * Which network destinations the https document source may reach. Pure functions, no I/O: the fetcher
 * calls them on every address a name resolves to, on IP literals, and again on every redirect.
 *
 * The ranges live in `node:net` BlockLists, one per reason so a refusal can say why. BlockList checks an
 * IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, however it is spelled) against the IPv4 rules, so the mapped
 * forms need no extra code. Other IPv6 forms that carry an IPv4 address (NAT64, 6to4, Teredo, the
 * deprecated IPv4-compatible `::a.b.c.d`) are refused whole: the embedded address could be anything, and
 * no document server needs them.
 */
import { BlockList, isIP } from 'node:net';

export const ADDRESS_CLASSES = [
  'unspecified',
  'loopback',
  'private',
  'shared',
  'link-local',
  'multicast',
  'reserved',
  'ipv4-embedding',
  'invalid',
] as const;
/** Why an address is refused. `private` (RFC 1918, IPv6 ULA) and `shared` (CGNAT) are what `allowPrivate` lifts. */
export type ForbiddenAddressClass = (typeof ADDRESS_CLASSES)[number];

type Family = 'ipv4' | 'ipv6';
const RANGES: readonly (readonly [ForbiddenAddressClass, string, number, Family])[] = [
  ['unspecified', '0.0.0.0', 8, 'ipv4'], // "this network", includes 0.0.0.0
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['loopback', '::1', 128, 'ipv6'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['private', 'fc00::', 7, 'ipv6'], // unique local addresses
  ['shared', '100.64.0.0', 10, 'ipv4'], // carrier-grade NAT
  ['link-local', '169.254.0.0', 16, 'ipv4'], // includes the metadata server 169.254.169.254
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['multicast', '224.0.0.0', 4, 'ipv4'],
  ['multicast', 'ff00::', 8, 'ipv6'],
  ['reserved', '240.0.0.0', 4, 'ipv4'], // includes the broadcast address
  ['reserved', '192.0.0.0', 24, 'ipv4'], // IETF protocol assignments
  ['reserved', '192.0.2.0', 24, 'ipv4'], // documentation
  ['reserved', '198.18.0.0', 15, 'ipv4'], // benchmarking
  ['reserved', '198.51.100.0', 24, 'ipv4'],
  ['reserved', '203.0.113.0', 24, 'ipv4'],
  ['reserved', '2001:db8::', 32, 'ipv6'], // documentation
  ['reserved', 'fec0::', 10, 'ipv6'], // deprecated site-local
  ['reserved', '100::', 64, 'ipv6'], // discard-only
  ['ipv4-embedding', '::', 96, 'ipv6'], // deprecated IPv4-compatible
  ['ipv4-embedding', '64:ff9b::', 96, 'ipv6'], // NAT64
  ['ipv4-embedding', '64:ff9b:1::', 48, 'ipv6'], // local-use NAT64
  ['ipv4-embedding', '2002::', 16, 'ipv6'], // 6to4
  ['ipv4-embedding', '2001::', 32, 'ipv6'], // Teredo
];

// Built once per instance, on first use (no work at import).
let lists: ReadonlyMap<ForbiddenAddressClass, BlockList> | undefined;
function blockLists(): ReadonlyMap<ForbiddenAddressClass, BlockList> {
  if (lists) return lists;
  const built = new Map<ForbiddenAddressClass, BlockList>();
  for (const [kind, network, prefix, family] of RANGES) {
    let list = built.get(kind);
    if (!list) built.set(kind, (list = new BlockList()));
    list.addSubnet(network, prefix, family);
  }
  return (lists = built);
}

/**
 * Evaluation order: the most specific reason first (`::1` is loopback before it is IPv4-compatible); the
 * order of ADDRESS_CLASSES, whose `invalid` has no range to look up.
 */
const ORDER = ADDRESS_CLASSES.filter((c) => c !== 'invalid');

export interface AddressPolicy {
  /** Lifts `private` and `shared` (an intranet document server). Loopback, link-local and the rest stay refused. */
  readonly allowPrivate?: boolean;
  /**
   * Exact addresses exempt from every rule (local runs and tests that serve from 127.0.0.1). Compared after
   * normalisation, so `::ffff:127.0.0.1` does not sneak past an entry for `127.0.0.1`, nor the reverse.
   */
  readonly allowedAddresses?: readonly string[];
}

/** Strips IPv6 brackets and a zone id (`fe80::1%eth0`); the result is what `isIP` understands. */
export function normalizeAddress(ip: string): string {
  let s = ip.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  return s.toLowerCase();
}

/** The class that forbids `ip`, or undefined when it is an ordinary public unicast address. */
export function classifyAddress(ip: string): ForbiddenAddressClass | undefined {
  const address = normalizeAddress(ip);
  const version = isIP(address);
  if (version === 0) return 'invalid';
  const family: Family = version === 4 ? 'ipv4' : 'ipv6';
  const all = blockLists();
  for (const kind of ORDER) {
    if (all.get(kind)?.check(address, family)) return kind;
  }
  return undefined;
}

/** Why `ip` may not be fetched under `policy`, or undefined when it may. */
export function forbiddenAddressReason(
  ip: string,
  policy: AddressPolicy = {},
): ForbiddenAddressClass | undefined {
  const address = normalizeAddress(ip);
  if (policy.allowedAddresses?.some((allowed) => normalizeAddress(allowed) === address)) return undefined;
  const kind = classifyAddress(address);
  if (policy.allowPrivate && (kind === 'private' || kind === 'shared')) return undefined;
  return kind;
}

export function isForbiddenAddress(ip: string, policy: AddressPolicy = {}): boolean {
  return forbiddenAddressReason(ip, policy) !== undefined;
}

/**
 * Names refused before any DNS lookup: the GCE/Cloud Run metadata server's names (which resolve to
 * 169.254.169.254, refused anyway, but a custom resolver or /etc/hosts might say otherwise) and localhost.
 */
const FORBIDDEN_NAMES: ReadonlySet<string> = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'localhost',
]);

/** Lower-cased, without the trailing dot(s) of a fully qualified name (`metadata.google.internal.`). */
export function normalizeHostname(name: string): string {
  return name.trim().toLowerCase().replace(/\.+$/, '');
}

export function isForbiddenHostname(name: string): boolean {
  const host = normalizeHostname(name);
  return host === '' || FORBIDDEN_NAMES.has(host) || host.endsWith('.localhost');
}
