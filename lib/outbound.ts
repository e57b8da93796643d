// The one guard of every outbound call Meridian makes on a user's behalf (spec fetches, webhook
// deliveries): which addresses it may reach, checked on literal IPs and on what host names resolve to.
import dns from 'node:dns';
import net from 'node:net';

/** Never fetched: link-local (cloud metadata lives there), unspecified and multicast addresses. */
const ALWAYS_REFUSED = new net.BlockList();
ALWAYS_REFUSED.addSubnet('169.254.0.0', 16, 'ipv4');
ALWAYS_REFUSED.addSubnet('0.0.0.0', 8, 'ipv4');
ALWAYS_REFUSED.addSubnet('224.0.0.0', 4, 'ipv4');
ALWAYS_REFUSED.addAddress('100.100.100.200', 'ipv4');
ALWAYS_REFUSED.addSubnet('fe80::', 10, 'ipv6');
ALWAYS_REFUSED.addSubnet('fd00::', 8, 'ipv6');
ALWAYS_REFUSED.addSubnet('ff00::', 8, 'ipv6');
ALWAYS_REFUSED.addAddress('::', 'ipv6');

/** Fetched only when private fetches are allowed: loopback and private networks. */
const PRIVATE = new net.BlockList();
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addAddress('::1', 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');

/** Why an address may not be fetched, or undefined when it may. IPv4-mapped IPv6 counts as IPv4. */
export function refusedAddress(address: string, allowPrivate: boolean): string | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  const family = net.isIPv4(ip) ? 'ipv4' : 'ipv6';
  if (ALWAYS_REFUSED.check(ip, family)) return `${address} is a link-local, metadata or reserved address`;
  if (!allowPrivate && PRIVATE.check(ip, family)) return `${address} is a loopback or private address (MERIDIAN_SPEC_FETCH_ALLOW_PRIVATE=true allows it)`;
  return undefined;
}

type LookupCallback = (error: Error | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * Resolves like dns.lookup but refuses addresses Meridian may not reach; the checked address is the one
 * connected to. `refuse` builds the error for a refused name.
 */
export function guardedLookup(allowPrivate: boolean, refuse: (message: string) => Error) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '');
      const refused = addresses.map((a) => refusedAddress(a.address, allowPrivate)).find(Boolean);
      if (refused) return callback(refuse(`${hostname} resolves to ${refused}`), '');
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** Why the host of `url` may not be called when it is a literal link-local or metadata address; undefined otherwise. */
export function refusedLiteralHost(url: string): string | undefined {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return net.isIP(host) ? refusedAddress(host, true) : undefined;
}
