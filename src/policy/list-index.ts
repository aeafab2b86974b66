import type { ListMatch, Target } from './types.js';

/**
 * The lookup structure behind category lists and profile allow/deny lists: hash maps keyed by host, so a
 * lookup costs O(labels of the host) whatever the list size.
 *
 * Matching semantics (squidGuard-style; our choices are written down here and tested in lists.test.ts):
 * - a domain entry covers the domain and every subdomain, on label boundaries: `facebook.com` matches
 *   `facebook.com` and `m.facebook.com`, never `notfacebook.com`. The walk goes up to the last label, so an
 *   entry `example` (a TLD) covers everything under it.
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
// the rare domain in several lists. This halves the heap for a million-entry list set.
type Lists = string | string[];

export class ListIndex {
  private readonly domains = new Map<string, Lists>();
  private readonly ips = new Map<string, Lists>();
  private readonly urls = new Map<string, UrlRule[]>();

  addDomain(host: string, list: string): void {
    addTo(this.domains, host, list);
  }

  addIp(host: string, list: string): void {
    addTo(this.ips, host, list);
  }

  addUrl(host: string, path: string, list: string): void {
    const lower = path.toLowerCase();
    const rule: UrlRule = {
      list,
      entry: `${host}${path}`,
      path: lower,
      plainPrefix: lower === '' || /[/?&=]$/.test(lower),
      queryRule: lower.includes('?'),
    };
    const rules = this.urls.get(host);
    if (rules === undefined) this.urls.set(host, [rule]);
    else if (!rules.some((r) => r.list === list && r.path === lower)) rules.push(rule);
  }

  get size(): { domains: number; ips: number; urlHosts: number } {
    return { domains: this.domains.size, ips: this.ips.size, urlHosts: this.urls.size };
  }

  /** Every entry matching the target, most specific host first. */
  match(target: Target): ListMatch[] {
    const out: ListMatch[] = [];
    if (target.hostKind !== 'domain') {
      pushLists(out, this.ips.get(target.host), target.host, 'ip');
      this.matchUrls(out, target.host, target.path);
      return out;
    }
    const host = target.host;
    let dot = -1;
    do {
      const suffix = dot === -1 ? host : host.slice(dot + 1);
      pushLists(out, this.domains.get(suffix), suffix, 'domain');
      if (this.urls.size > 0) this.matchUrls(out, suffix, target.path);
      dot = host.indexOf('.', dot + 1);
    } while (dot !== -1);
    return out;
  }

  private matchUrls(out: ListMatch[], host: string, path: string): void {
    const rules = this.urls.get(host);
    if (rules === undefined) return;
    const lower = path.toLowerCase();
    for (const rule of rules) {
      if (pathMatches(rule, lower)) out.push({ list: rule.list, entry: rule.entry, kind: 'url' });
    }
  }
}

function pathMatches(rule: UrlRule, path: string): boolean {
  if (!path.startsWith(rule.path)) return false;
  if (rule.plainPrefix || path.length === rule.path.length) return true;
  const next = path[rule.path.length];
  return rule.queryRule ? next === '&' : next === '/' || next === '?';
}

function addTo(map: Map<string, Lists>, key: string, list: string): void {
  const existing = map.get(key);
  if (existing === undefined) map.set(key, list);
  else if (typeof existing === 'string') {
    if (existing !== list) map.set(key, [existing, list]);
  } else if (!existing.includes(list)) existing.push(list);
}

function pushLists(out: ListMatch[], lists: Lists | undefined, entry: string, kind: ListMatch['kind']): void {
  if (lists === undefined) return;
  if (typeof lists === 'string') out.push({ list: lists, entry, kind });
  else for (const list of lists) out.push({ list, entry, kind });
}
