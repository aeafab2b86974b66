/**
 * The Map-based list index as it was before the typed-array one (src/policy/list-index.ts at 00d54a0),
 * kept ONLY so scripts/bench-lists.ts can compare the two in one run on one machine. Not used by schoolgate.
 */
import { pathMatches, type UrlRule } from '../src/policy/list-index.js';
import type { ListMatch, Target } from '../src/policy/types.js';

// Most domains are in one list: store that list's name as a plain string and only allocate an array for
// the rare domain in several lists, and a HostNode for the few hosts that also have URL rules. One map
// holds all three, so a miss costs one hash lookup per label, not one per label per kind of entry.
type Lists = string | string[];

interface HostNode {
  lists: Lists | undefined;
  urls: UrlRule[];
}

type HostEntry = Lists | HostNode;

export class MapListIndex {
  /** Domain names (entries cover subdomains). */
  private readonly domains = new Map<string, HostEntry>();
  /** IP addresses (exact match only). */
  private readonly ips = new Map<string, HostEntry>();

  addDomain(host: string, list: string): void {
    addList(this.domains, host, list);
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
