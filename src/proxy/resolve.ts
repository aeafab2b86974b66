/**
 * Resolves the checked target host to the address the proxy will connect to. The connect goes to the
 * address returned here, so a name cannot resolve to one address at check time and another at connect
 * time (DNS rebinding). Loopback, private, link-local and the proxy's own addresses are refused unless a
 * deliberate route (hosts file / config) points the name there.
 */
import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import ipaddr from 'ipaddr.js';
import { LRUCache } from 'lru-cache';
import type { Target } from '../policy/types.js';

export type Resolution =
  /** viaParent: the name goes to the parent proxy unresolved (upstream.proxy); `address` is the name. */
  | { ok: true; address: string; family: 4 | 6; routed: boolean; viaParent?: boolean }
  | { ok: false; reason: 'forbidden-address' | 'not-found'; address?: string };

/**
 * Only public unicast addresses are reachable through the proxy by default: every other range ipaddr.js
 * knows (loopback, private, link-local, IPv6 site-local fec0::/10, discard, documentation, NAT64, 6to4,
 * Teredo, multicast, ...) and any it will learn later is refused. An allow list, not a deny list: a range
 * nobody thought of is closed, not open.
 */
const REACHABLE_RANGE = 'unicast';

/** Every address a name resolves to: dns.lookup by default (the system resolver, hosts file included). */
export type LookupAll = (name: string) => Promise<{ address: string; family: number }[]>;

const systemLookup: LookupAll = (name) => lookup(name, { all: true, verbatim: true });

export function ownAddresses(): Set<string> {
  const own = new Set<string>();
  for (const list of Object.values(networkInterfaces()))
    for (const info of list ?? []) own.add(ipaddr.process(info.address.split('%')[0]!).toString());
  return own;
}

export function isForbiddenAddress(address: string, own: ReadonlySet<string>): boolean {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.process(address);
  } catch {
    return true;
  }
  return ip.range() !== REACHABLE_RANGE || own.has(ip.toString());
}

export class Resolver {
  private readonly cache = new LRUCache<string, string[]>({ max: 10_000, ttl: 30_000 });
  private readonly own = ownAddresses();

  constructor(
    private readonly routes: ReadonlyMap<string, string>,
    private readonly lookupAll: LookupAll = systemLookup,
    /** A parent proxy is set: names are left to it (no lookup); IP literals are still checked. */
    private readonly viaParent = false,
  ) {}

  async resolve(target: Target): Promise<Resolution> {
    const routed = this.routes.get(target.host);
    if (routed) return { ok: true, address: routed, family: routed.includes(':') ? 6 : 4, routed: true };
    // RFC 6761: localhost names are loopback, whatever a resolver says; decided without a lookup.
    if (target.host === 'localhost' || target.host.endsWith('.localhost'))
      return { ok: false, reason: 'forbidden-address', address: '127.0.0.1' };
    if (this.viaParent && target.hostKind === 'domain')
      return { ok: true, address: target.host, family: 4, routed: false, viaParent: true };
    let addresses: string[];
    if (target.hostKind !== 'domain') addresses = [target.host];
    else {
      const cached = this.cache.get(target.host);
      if (cached) addresses = cached;
      else {
        try {
          addresses = (await this.lookupAll(target.host)).map((a) => a.address);
        } catch {
          return { ok: false, reason: 'not-found' };
        }
        this.cache.set(target.host, addresses);
      }
    }
    // Every address must be public: a name that mixes public and private answers is refused whole.
    const bad = addresses.find((a) => isForbiddenAddress(a, this.own));
    if (bad !== undefined || addresses.length === 0)
      return { ok: false, reason: 'forbidden-address', address: bad };
    const address = ipaddr.process(addresses[0]!).toString();
    const family = address.includes(':') ? 6 : 4;
    return { ok: true, address, family, routed: false, ...(this.viaParent ? { viaParent: true } : {}) };
  }
}
