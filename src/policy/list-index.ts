import type { ListMatch, Target } from './types.js';

/**
 * The lookup structure behind category lists and profile allow/deny lists: hash maps keyed by host, so a
 * lookup costs O(labels of the host) whatever the list size.
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
interface UrlRule {
  list: string;
  entry: string;
  /** Lower-cased normalised path and query; '' for the whole host. */
  path: string;
  plainPrefix: boolean;
  queryRule: boolean;
}

// Most domains are in one list: store that list's name as a plain string and only allocate an array for
// the rare domain in several lists, and a HostNode for the few hosts that also have URL rules. One map
// holds all three, so a miss costs one hash lookup per label, not one per label per kind of entry.
type Lists = string | string[];

interface HostNode {
  lists: Lists | undefined;
  urls: UrlRule[];
}

type HostEntry = Lists | HostNode;

export class ListIndex {
  /** Domain names (entries cover subdomains). */
  private readonly domains = new Map<string, HostEntry>();
  /** IP addresses (exact match only). */
  private readonly ips = new Map<string, HostEntry>();
  /** Hosts matched exactly: public suffixes such as `github.io` (entries.ts), never their subdomains. */
  private readonly exactHosts = new Map<string, Lists>();

  addDomain(host: string, list: string): void {
    addList(this.domains, host, list);
  }

  addExactHost(host: string, list: string): void {
    this.exactHosts.set(host, merge(this.exactHosts.get(host), list));
  }

  addIp(host: string, list: string): void {
    addList(this.ips, host, list);
  }

  /** A URL rule on `host`, which is a domain (label walk) unless it is an IP address. */
  addUrl(host: string, path: string, list: string, hostIsIp = false): void {
    const map = hostIsIp ? this.ips : this.domains;
    const lower = path.toLowerCase();
    const existing = map.get(host);
    let node: HostNode;
    if (existing !== undefined && isNode(existing)) node = existing;
    else {
      node = { lists: existing, urls: [] };
      map.set(host, node);
    }
    if (node.urls.some((r) => r.list === list && r.path === lower)) return;
    node.urls.push({
      list,
      entry: `${host}${path}`,
      path: lower,
      plainPrefix: lower === '' || /[/?&=]$/.test(lower),
      queryRule: lower.includes('?'),
    });
  }

  /** Every entry matching the target, most specific host first. */
  match(target: Target): ListMatch[] {
    const out: ListMatch[] = [];
    if (target.hostKind !== 'domain') {
      const entry = this.ips.get(target.host);
      if (entry !== undefined) pushEntry(out, entry, target.host, 'ip', target.path);
      return out;
    }
    const host = target.host;
    if (this.exactHosts.size > 0) pushLists(out, this.exactHosts.get(host), host, 'domain');
    let dot = -1;
    do {
      const suffix = dot === -1 ? host : host.slice(dot + 1);
      const entry = this.domains.get(suffix);
      if (entry !== undefined) pushEntry(out, entry, suffix, 'domain', target.path);
      dot = host.indexOf('.', dot + 1);
    } while (dot !== -1);
    return out;
  }
}

function isNode(entry: HostEntry): entry is HostNode {
  return typeof entry === 'object' && !Array.isArray(entry);
}

function pushEntry(
  out: ListMatch[],
  entry: HostEntry,
  key: string,
  kind: ListMatch['kind'],
  path: string,
): void {
  if (!isNode(entry)) {
    pushLists(out, entry, key, kind);
    return;
  }
  if (entry.lists !== undefined) pushLists(out, entry.lists, key, kind);
  const lower = path.toLowerCase();
  for (const rule of entry.urls) {
    if (pathMatches(rule, lower)) out.push({ list: rule.list, entry: rule.entry, kind: 'url' });
  }
}

function pathMatches(rule: UrlRule, path: string): boolean {
  if (!path.startsWith(rule.path)) return false;
  if (rule.plainPrefix || path.length === rule.path.length) return true;
  const next = path[rule.path.length];
  return rule.queryRule ? next === '&' : next === '/' || next === '?';
}

function addList(map: Map<string, HostEntry>, key: string, list: string): void {
  const existing = map.get(key);
  if (existing === undefined) map.set(key, list);
  else if (isNode(existing)) existing.lists = merge(existing.lists, list);
  else map.set(key, merge(existing, list));
}

function merge(lists: Lists | undefined, list: string): Lists {
  if (lists === undefined || lists === list) return list;
  if (typeof lists === 'string') return [lists, list];
  if (!lists.includes(list)) lists.push(list);
  return lists;
}

function pushLists(out: ListMatch[], lists: Lists | undefined, entry: string, kind: ListMatch['kind']): void {
  if (lists === undefined) return;
  if (typeof lists === 'string') out.push({ list: lists, entry, kind });
  else for (const list of lists) out.push({ list, entry, kind });
}
