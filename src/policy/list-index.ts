import { HostTable, type HostTableImage } from './host-table.js';
import { UrlRuleTable, urlRule, type UrlRulesImage } from './url-rule-table.js';
import type { ListMatch, Target } from './types.js';

/**
 * The lookup structure behind category lists and profile allow/deny lists: hash tables of hosts over typed
 * arrays (host-table.ts), so a lookup costs O(length of the host) whatever the list size, and a list of
 * millions of domains costs tens of MB outside the JS heap.
 *
 * Matching semantics (squidGuard-style; our choices are written down here and tested in lists.test.ts):
 * - a domain entry covers the domain and every subdomain, on label boundaries: `facebook.com` matches
 *   `facebook.com` and `m.facebook.com`, never `notfacebook.com`. The walk goes up to the last label; a TLD or
 *   ICANN suffix never gets here (entries.ts refuses it), and a private-section suffix (`github.io`) is
 *   an exact-host entry: it matches that host only, never the sites beneath it.
 * - an IP entry matches that exact address only (no label walk over an IP: `0.0.1` is not a parent of
 *   `127.0.0.1`).
 * - a URL entry `host/path` matches hosts the same way as a domain entry, and paths by prefix on the
 *   normalised path, compared case-insensitively (lists are written in any case; blocking `/Dir` but not
 *   `/dir` would be a trivial bypass). The prefix must end on a boundary: `/dir` matches `/dir`, `/dir/x`,
 *   `/dir?x`, never `/directory`; a rule with a query (`/watch?v=abc`) matches `/watch?v=abc` and
 *   `/watch?v=abc&t=1`, never `/watch?v=abcd`. A rule ending in `/`, `?`, `&` or `=` is a plain prefix.
 *   Parameters in another order (`?t=1&v=abc`) do not match: the same limit as squidGuard's prefix lists.
 * - a URL entry with no path covers the whole host (like a domain entry, reported as kind 'url').
 */
export interface UrlRule {
  list: string;
  entry: string;
  /** Lower-cased normalised path and query; '' for the whole host. */
  path: string;
  plainPrefix: boolean;
  queryRule: boolean;
}

/**
 * Which lists an entry is in, as a number: the domains of a big list set share a few hundred distinct
 * combinations of lists (UT1's malware and phishing overlap almost whole), so each combination is stored
 * once and an entry holds its number in a HostTable value. Set 0 is "no list" (a host with URL rules only).
 */
class ListSets {
  private readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  private readonly sets: (readonly string[])[];
  /** (set number, list number) → the set with that list appended. */
  private readonly next = new Map<number, number>();

  /** `sets`: every combination, as all() gave them (an index built on another thread). */
  constructor(sets: (readonly string[])[] = [[]]) {
    this.sets = sets;
    for (const set of sets)
      for (const list of set) if (!this.ids.has(list)) this.ids.set(list, this.names.push(list) - 1);
  }

  all(): (readonly string[])[] {
    return this.sets;
  }

  with(set: number, list: string): number {
    let id = this.ids.get(list);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(list);
      this.ids.set(list, id);
    }
    const key = set * 2 ** 20 + id;
    const known = this.next.get(key);
    if (known !== undefined) return known;
    const lists = this.sets[set]!;
    // A list added again keeps its place: the first addition fixes the order matches are reported in.
    const result = lists.includes(list) ? set : this.sets.push([...lists, list]) - 1;
    this.next.set(key, result);
    return result;
  }

  lists(set: number): readonly string[] {
    return this.sets[set]!;
  }
}

/**
 * A finished index as plain data: its tables' typed arrays (transferred, not copied, when posted from the
 * worker thread that built it: src/lists/lists-worker.ts) and the few small structures beside them.
 */
export interface ListIndexImage {
  sets: (readonly string[])[];
  domains: HostTableImage;
  ips: HostTableImage;
  exactHosts: HostTableImage;
  domainUrls: UrlRulesImage;
  ipUrls: UrlRulesImage;
}

export class ListIndex {
  private readonly sets: ListSets;
  /** Domain names (entries cover subdomains). */
  private readonly domains: HostTable;
  /** IP addresses (exact match only). */
  private readonly ips: HostTable;
  /** URL rules per host, by the host's entry in `domains` / `ips` (few hosts have them). */
  private readonly domainUrls: UrlRuleTable;
  private readonly ipUrls: UrlRuleTable;
  /** Scratch for the label walk: [entry, suffix start] pairs. */
  private readonly found: number[] = [];
  /** Hosts matched exactly: public suffixes such as `github.io` (entries.ts), never their subdomains. */
  private readonly exactHosts: HostTable;

  /** Empty, or over an image (the arrays are taken as they are). */
  constructor(image?: ListIndexImage) {
    this.sets = new ListSets(image?.sets);
    this.domains = image ? HostTable.adopt(image.domains) : new HostTable();
    this.ips = image ? HostTable.adopt(image.ips) : new HostTable();
    this.exactHosts = image ? HostTable.adopt(image.exactHosts) : new HostTable();
    this.domainUrls = new UrlRuleTable(image?.domainUrls);
    this.ipUrls = new UrlRuleTable(image?.ipUrls);
  }

  /** The index as data, compacted; it must not be used once the image's buffers were transferred. */
  image(): ListIndexImage {
    return {
      sets: this.sets.all(),
      domains: this.domains.image(),
      ips: this.ips.image(),
      exactHosts: this.exactHosts.image(),
      domainUrls: this.domainUrls.image(),
      ipUrls: this.ipUrls.image(),
    };
  }

  /** The buffers to transfer with image(). */
  static buffers(image: ListIndexImage): ArrayBuffer[] {
    return [
      ...[image.domains, image.ips, image.exactHosts].flatMap((t) => HostTable.buffers(t)),
      ...[image.domainUrls, image.ipUrls].flatMap((u) => UrlRuleTable.buffers(u)),
    ];
  }

  /**
   * Throws unless an image read from disk (src/lists/snapshot-file.ts) is whole: list sets of strings, host
   * tables that lookups cannot run off (HostTable.check), URL rules whose hosts and offsets are in range.
   * Lookups over a checked image behave as over the index that made it.
   */
  static checkImage(image: ListIndexImage): void {
    const { sets } = image;
    if (!Array.isArray(sets) || sets.length === 0 || !Array.isArray(sets[0]) || sets[0].length !== 0)
      throw new Error('list sets missing');
    for (const set of sets)
      if (!Array.isArray(set) || set.some((list) => typeof list !== 'string'))
        throw new Error('list set is not a list of names');
    for (const table of [image.domains, image.ips, image.exactHosts]) HostTable.check(table, sets.length);
    for (const [urls, hosts] of [
      [image.domainUrls, image.domains],
      [image.ipUrls, image.ips],
    ] as const)
      UrlRuleTable.check(urls, hosts.bytes.length);
  }

  addDomain(host: string, list: string): void {
    this.addList(this.domains, host, list);
  }

  addExactHost(host: string, list: string): void {
    this.addList(this.exactHosts, host, list);
  }

  addIp(host: string, list: string): void {
    this.addList(this.ips, host, list);
  }

  /** A URL rule on `host`, which is a domain (label walk) unless it is an IP address. */
  addUrl(host: string, path: string, list: string, hostIsIp = false): void {
    const entry = (hostIsIp ? this.ips : this.domains).intern(host, 0);
    const rules = (hostIsIp ? this.ipUrls : this.domainUrls).rulesFor(entry);
    const lower = path.toLowerCase();
    if (rules.some((r) => r.list === list && r.path === lower)) return;
    rules.push(urlRule(list, `${host}${path}`, lower));
  }

  /** Nothing more will be added: gives back the spare room of the tables. */
  compact(): void {
    this.domains.compact();
    this.ips.compact();
    this.exactHosts.compact();
  }

  /** Distinct hosts and the bytes their tables hold (benchmarks). */
  footprint(): { hosts: number; bytes: number } {
    return {
      hosts: this.domains.size + this.ips.size + this.exactHosts.size,
      bytes: this.domains.byteSize() + this.ips.byteSize() + this.exactHosts.byteSize(),
    };
  }

  /** Every entry matching the target, most specific host first. */
  match(target: Target): ListMatch[] {
    const out: ListMatch[] = [];
    if (target.hostKind !== 'domain') {
      const entry = this.ips.find(target.host);
      if (entry !== -1) this.push(out, this.ips, this.ipUrls, entry, target.host, 'ip', target.path);
      return out;
    }
    if (this.exactHosts.size > 0) {
      const exact = this.exactHosts.findHost(target.host);
      if (exact !== -1)
        for (const list of this.sets.lists(this.exactHosts.value(exact)))
          out.push({ list, entry: target.host, kind: 'domain' });
    }
    const found = this.found;
    if (found.length !== 0) found.length = 0; // the generic length setter costs even on an empty array
    this.domains.suffixes(target.host, found);
    for (let i = 0; i < found.length; i += 2) {
      const suffix = found[i + 1] === 0 ? target.host : target.host.slice(found[i + 1]);
      this.push(out, this.domains, this.domainUrls, found[i]!, suffix, 'domain', target.path);
    }
    return out;
  }

  private addList(table: HostTable, host: string, list: string): void {
    const entry = table.intern(host, 0);
    table.setValue(entry, this.sets.with(table.value(entry), list));
  }

  private push(
    out: ListMatch[],
    table: HostTable,
    urls: UrlRuleTable,
    entry: number,
    key: string,
    kind: ListMatch['kind'],
    path: string,
  ): void {
    for (const list of this.sets.lists(table.value(entry))) out.push({ list, entry: key, kind });
    const rules = urls.empty ? undefined : urls.get(entry);
    if (rules === undefined) return;
    const lower = path.toLowerCase();
    for (const rule of rules) {
      if (pathMatches(rule, lower)) out.push({ list: rule.list, entry: rule.entry, kind: 'url' });
    }
  }
}

/** Whether a URL rule's path covers the request's lower-cased path (the boundary rules above). */
export function pathMatches(rule: UrlRule, path: string): boolean {
  if (!path.startsWith(rule.path)) return false;
  if (rule.plainPrefix || path.length === rule.path.length) return true;
  const next = path[rule.path.length];
  return rule.queryRule ? next === '&' : next === '/' || next === '?';
}
