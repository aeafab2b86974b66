/** Who may reach the console: pure, from the config. */
import ipaddr from 'ipaddr.js';
import type { ReadonlyConfig } from '../config/load.js';

const STAFF_PROFILES = new Set(['staff', 'leadership', 'technician']);

/** console.networks, or (null) admin.networks plus the networks mapped to staff-like profiles. */
export function consoleNetworks(config: ReadonlyConfig): string[] {
  if (config.console.networks !== null) return [...config.console.networks];
  const staff = config.identity.networks.filter((n) => STAFF_PROFILES.has(n.profile)).map((n) => n.cidr);
  return [...new Set([...config.admin.networks, ...staff])];
}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

export function networkMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  const ranges = cidrs.map((c) => ipaddr.parseCIDR(c) as Range);
  return (raw) => {
    if (!ipaddr.isValid(raw)) return false;
    let ip = ipaddr.parse(raw);
    // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress())
      ip = (ip as ipaddr.IPv6).toIPv4Address();
    return ranges.some(([net, bits]) => ip.kind() === net.kind() && ip.match(net, bits));
  };
}
