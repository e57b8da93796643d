// The one guard of every outbound call Meridian makes on a user's behalf (spec fetches, webhook
// deliveries, a runtime gateway's calls to an API's targetUrl and to an OAuth tokenUrl): which
// addresses it may reach, checked on literal IPs and on every address a host name resolves to, and
// the connection pinned to the address checked.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/** Thrown when Meridian refuses to call a target; the message says which and why, nothing more. */
export class OutboundRefused extends Error {
  override name = 'OutboundRefused';
}

/** Never called, whatever the setting: link-local (cloud metadata lives there), reserved, documentation, multicast. */
const RESERVED_V4 = new net.BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8],
  ['169.254.0.0', 16],
  ['100.100.100.200', 32], // Alibaba Cloud metadata, inside 100.64.0.0/10
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4], // with 255.255.255.255
] as const) RESERVED_V4.addSubnet(prefix, bits, 'ipv4');

/** Called only with MERIDIAN_OUTBOUND_ALLOW_PRIVATE: loopback, RFC 1918, shared (CGNAT) and benchmarking networks. */
const PRIVATE_V4 = new net.BlockList();
for (const [prefix, bits] of [
  ['127.0.0.0', 8],
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10],
  ['198.18.0.0', 15],
] as const) PRIVATE_V4.addSubnet(prefix, bits, 'ipv4');

const RESERVED_V6 = new net.BlockList();
for (const [prefix, bits] of [
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001::', 23], // IETF protocol assignments: Teredo, benchmarking, ORCHID
  ['2001:db8::', 32],
  ['3fff::', 20],
  ['fd00:ec2::254', 128], // AWS metadata, inside fc00::/7
  ['fd20:ce::254', 128], // Google Cloud metadata, inside fc00::/7
] as const) RESERVED_V6.addSubnet(prefix, bits, 'ipv6');

const PRIVATE_V6 = new net.BlockList();
PRIVATE_V6.addAddress('::1', 'ipv6');
PRIVATE_V6.addSubnet('fc00::', 7, 'ipv6');
PRIVATE_V6.addSubnet('fec0::', 10, 'ipv6');
PRIVATE_V6.addSubnet('64:ff9b:1::', 48, 'ipv6'); // local-use NAT64: where its IPv4 sits is not fixed

const GLOBAL_UNICAST_V6 = new net.BlockList();
GLOBAL_UNICAST_V6.addSubnet('2000::', 3, 'ipv6');

type Kind = 'reserved' | 'private';
const WHY: Record<Kind, string> = {
  reserved: 'a link-local, metadata or reserved address',
  private: 'a loopback or private address (MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true allows it)',
};

/** The 16 bytes of an IPv6 address in any spelling (`::`, a dotted IPv4 tail, a zone). */
function ipv6Bytes(address: string): number[] {
  let text = address.replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left, right] = text.split('::') as [string, string | undefined];
  const head = left ? left.split(':') : [];
  const tail = right ? right.split(':') : [];
  const groups = right === undefined ? head : [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  return groups.flatMap((group) => {
    const value = parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
}

const zero = (bytes: number[], from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
const dottedQuad = (bytes: number[]) => bytes.join('.');

/**
 * The IPv4 address an IPv6 address carries, in every form that routes to it: IPv4-mapped
 * (::ffff:0:0/96), IPv4-translated (::ffff:0:0:0/96), IPv4-compatible (::/96), NAT64 (64:ff9b::/96)
 * and 6to4 (2002::/16).
 */
function embeddedIPv4(bytes: number[]): string | undefined {
  const last = bytes.slice(12);
  if (zero(bytes, 0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return dottedQuad(last);
  if (zero(bytes, 0, 8) && bytes[8] === 0xff && bytes[9] === 0xff && zero(bytes, 10, 12)) return dottedQuad(last);
  if (zero(bytes, 0, 12)) return dottedQuad(last);
  if (bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zero(bytes, 4, 12)) return dottedQuad(last);
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return dottedQuad(bytes.slice(2, 6));
  return undefined;
}

/** Which list an address is on (anything not an IP is reserved); undefined for a public address. */
function kindOf(address: string): Kind | undefined {
  if (net.isIPv4(address)) {
    if (RESERVED_V4.check(address, 'ipv4')) return 'reserved';
    return PRIVATE_V4.check(address, 'ipv4') ? 'private' : undefined;
  }
  const ip = address.replace(/%.*$/, '');
  if (!net.isIPv6(ip)) return 'reserved';
  const bytes = ipv6Bytes(ip);
  if (zero(bytes, 0, 15) && bytes[15]! <= 1) return bytes[15] === 1 ? 'private' : 'reserved'; // ::1 and ::
  const v4 = embeddedIPv4(bytes);
  if (v4) return kindOf(v4);
  if (RESERVED_V6.check(ip, 'ipv6')) return 'reserved';
  if (PRIVATE_V6.check(ip, 'ipv6')) return 'private';
  return GLOBAL_UNICAST_V6.check(ip, 'ipv6') ? undefined : 'reserved';
}

/**
 * Why an address may not be called, or undefined when it may. Link-local, metadata and reserved
 * addresses are always refused; loopback and private ones unless `allowPrivate`. An IPv6 address that
 * carries an IPv4 address is judged by that IPv4 address.
 */
export function refusedAddress(address: string, allowPrivate: boolean): string | undefined {
  const kind = kindOf(address);
  if (!kind || (kind === 'private' && allowPrivate)) return undefined;
  return `${address} is ${WHY[kind]}`;
}

const literalHost = (url: URL) => url.hostname.replace(/^\[|\]$/g, '');

/**
 * Why the host of `url` may never be called when it is a literal link-local, metadata or reserved
 * address; undefined otherwise (and for what is not a URL). For input checks: host names and private
 * addresses are judged at call time, under the caller's setting.
 */
export function refusedLiteralHost(url: string): string | undefined {
  let host: string;
  try {
    host = literalHost(new URL(url));
  } catch {
    return undefined;
  }
  return net.isIP(host) ? refusedAddress(host, true) : undefined;
}

/** `url` as a URL Meridian may call: http or https, and a literal IP host that is not refused. Throws {@link OutboundRefused}. */
export function outboundTarget(url: string | URL, allowPrivate: boolean): URL {
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new OutboundRefused(`${target.protocol} is not http or https`);
  const host = literalHost(target);
  const refused = net.isIP(host) ? refusedAddress(host, allowPrivate) : undefined;
  if (refused) throw new OutboundRefused(refused);
  return target;
}

/**
 * Resolves like dns.lookup, but fails with {@link OutboundRefused} when any address of the name is
 * refused. Given to the connection as its `lookup`, so the address connected to is one checked here.
 */
export function guardedLookup(allowPrivate: boolean): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '');
      const kinds = addresses.map((a) => kindOf(a.address));
      const refused = kinds.find((k) => k === 'reserved') ?? kinds.find((k) => k === 'private' && !allowPrivate);
      if (refused) return callback(new OutboundRefused(`${hostname} resolves to ${WHY[refused]}`), '');
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** Kept-alive connections by scheme and setting: a connection is only reused by calls under the setting that checked it. */
const keptAlive = new Map<string, http.Agent>();
function keepAliveAgent(protocol: string, allowPrivate: boolean): http.Agent {
  const key = `${protocol}${allowPrivate}`;
  let agent = keptAlive.get(key);
  if (!agent) {
    const options = { keepAlive: true, lookup: guardedLookup(allowPrivate) };
    agent = protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
    keptAlive.set(key, agent);
  }
  return agent;
}

export interface OutboundRequest {
  /** Reach loopback and private addresses (MERIDIAN_OUTBOUND_ALLOW_PRIVATE); link-local, metadata and reserved ones stay refused. */
  allowPrivate: boolean;
  /** @default GET */
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string | Buffer;
  /** The call fails with "no answer within …" when the connection is idle this long. */
  timeoutMs: number;
  /** Reuse connections (a gateway's calls); otherwise one connection per call. @default false */
  keepAlive?: boolean;
}

/**
 * One HTTP(S) request to a target Meridian may call; resolves with the response, unread. Redirects are
 * not followed: a caller that follows one calls again, and the new target is checked again. Rejects
 * with {@link OutboundRefused} for a refused target, with the network's error otherwise.
 */
export function outboundRequest(url: string | URL, options: OutboundRequest): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = outboundTarget(url, options.allowPrivate);
    const client = target.protocol === 'https:' ? https : http;
    const { body } = options;
    const request = client.request(target, {
      method: options.method ?? 'GET',
      headers: { ...options.headers, ...(body !== undefined && { 'content-length': Buffer.byteLength(body) }) },
      timeout: options.timeoutMs,
      ...(options.keepAlive ? { agent: keepAliveAgent(target.protocol, options.allowPrivate) } : { agent: false, lookup: guardedLookup(options.allowPrivate) }),
    });
    request.on('response', resolve);
    const limit = options.timeoutMs % 1000 === 0 ? `${options.timeoutMs / 1000} s` : `${options.timeoutMs} ms`;
    request.on('timeout', () => request.destroy(new Error(`no answer within ${limit}`)));
    request.on('error', reject);
    request.end(body ?? '');
  });
}
