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
  | { ok: false; reason: 'forbidden-address' | 'not-found' | 'lookup-timeout'; address?: string };

/**
 * getaddrinfo runs on libuv's thread pool (4 threads), which also does file I/O, scrypt and crypto: a name
 * server that never answers would take all of it and stall the proxy. So at most this many lookups run at
 * once (a slot is freed only when the system's lookup really returns), the same name is looked up once
 * however many requests ask, and a request waits at most `timeoutMs` for its answer (then a 504 page).
 */
export type LookupLimits = { timeoutMs: number; maxInFlight: number };
const DEFAULT_LOOKUP_LIMITS: LookupLimits = { timeoutMs: 5_000, maxInFlight: 2 };
const TIMED_OUT = Symbol('lookup-timeout');

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
  /** Lookups asked for and not yet settled, by name: one system lookup per name at a time. */
  private readonly pending = new Map<string, Promise<string[]>>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;

  constructor(
    private readonly routes: ReadonlyMap<string, string>,
    private readonly lookupAll: LookupAll = systemLookup,
    private readonly limits: LookupLimits = DEFAULT_LOOKUP_LIMITS,
    /** A parent proxy is set: names are left to it (no lookup); IP literals are still checked. */
    private readonly viaParent = false,
  ) {}

  /** System lookups running now (at most `maxInFlight`), and requests queued for a slot: for tests, status. */
  get lookups(): { running: number; queued: number } {
    return { running: this.running, queued: this.waiting.length };
  }

  private lookupOnce(name: string): Promise<string[]> {
    let found = this.pending.get(name);
    if (!found) {
      found = this.inSlot(name).finally(() => this.pending.delete(name));
      this.pending.set(name, found);
    }
    return found;
  }

  private async inSlot(name: string): Promise<string[]> {
    if (this.running >= this.limits.maxInFlight)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return (await this.lookupAll(name)).map((a) => a.address);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** The name's addresses, or TIMED_OUT when no answer came in time (the lookup goes on in its slot). */
  private withTimeout(name: string): Promise<string[] | typeof TIMED_OUT> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(resolve, this.limits.timeoutMs, TIMED_OUT);
      timer.unref();
    });
    return Promise.race([this.lookupOnce(name), late]).finally(() => clearTimeout(timer));
  }

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
        let answer: string[] | typeof TIMED_OUT;
        try {
          answer = await this.withTimeout(target.host);
        } catch {
          return { ok: false, reason: 'not-found' };
        }
        if (answer === TIMED_OUT) return { ok: false, reason: 'lookup-timeout' };
        addresses = answer;
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
