/**
 * Maps a client address to a device (fixed-address staff laptops) or a network profile (CIDR).
 * Compiled once per config; the most specific network (longest prefix) wins.
 */
import ipaddr from 'ipaddr.js';

export interface DeviceEntry {
  address: string;
  name: string;
  user?: string | undefined;
  profile?: string | undefined;
  /** The school of a trust it belongs to (site.ts). */
  site?: string | undefined;
}
export interface NetworkEntry {
  cidr: string;
  profile: string;
  name?: string | undefined;
  site?: string | undefined;
}

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

/** IPv4-mapped IPv6 (how a dual-stack socket reports IPv4 peers) becomes plain IPv4. */
export function canonicalAddress(address: string): string {
  try {
    const ip = ipaddr.process(address);
    return ip.toString();
  } catch {
    return address;
  }
}

export class AddressMap {
  private readonly devices = new Map<string, DeviceEntry>();
  private readonly networks: { range: [Parsed, number]; entry: NetworkEntry }[];
  /** Whether any network has a site: when none does, a request's site never needs a network lookup. */
  readonly networkSites: boolean;

  constructor(devices: readonly DeviceEntry[], networks: readonly NetworkEntry[]) {
    for (const d of devices) this.devices.set(canonicalAddress(d.address), d);
    this.networks = networks
      .map((entry) => ({ range: ipaddr.parseCIDR(entry.cidr) as [Parsed, number], entry }))
      .sort((a, b) => b.range[1] - a.range[1]);
    this.networkSites = networks.some((n) => n.site !== undefined);
  }

  device(address: string): DeviceEntry | undefined {
    return this.devices.get(canonicalAddress(address));
  }

  network(address: string): NetworkEntry | undefined {
    const ip = parse(address);
    if (!ip) return undefined;
    return this.networks.find((n) => n.range[0].kind() === ip.kind() && ip.match(n.range))?.entry;
  }
}

/** True when the address lies in any of the CIDRs. */
export function inAnyCidr(address: string, cidrs: readonly [Parsed, number][]): boolean {
  const ip = parse(address);
  if (!ip) return false;
  return cidrs.some((range) => range[0].kind() === ip.kind() && ip.match(range));
}

/** Answers kept by cidrMatcher before it starts over (a client address is asked on every request). */
const MATCHER_MEMORY = 4096;

/**
 * inAnyCidr for one fixed list, remembering its answers: parsing the client's address on each request of
 * a keep-alive connection was ~1 % of the proxy's profile. Starts over when MATCHER_MEMORY addresses were
 * seen, so a scan from a /64 cannot grow it.
 */
export function cidrMatcher(cidrs: readonly string[]): (address: string) => boolean {
  const ranges = parseCidrs(cidrs);
  let known = new Map<string, boolean>();
  return (address) => {
    let allowed = known.get(address);
    if (allowed === undefined) {
      allowed = inAnyCidr(address, ranges);
      if (known.size >= MATCHER_MEMORY) known = new Map();
      known.set(address, allowed);
    }
    return allowed;
  };
}

export function parseCidrs(cidrs: readonly string[]): [Parsed, number][] {
  return cidrs.map((c) => ipaddr.parseCIDR(c) as [Parsed, number]);
}

function parse(address: string): Parsed | undefined {
  try {
    return ipaddr.process(address);
  } catch {
    return undefined;
  }
}
