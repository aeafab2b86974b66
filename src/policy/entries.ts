import ipaddr from 'ipaddr.js';
import { normaliseHost } from './host.js';
import { suffixKind } from './public-suffix.js';
import { normalisePath } from './target.js';
import { isTargetError } from './target-error.js';
import type { HostKind } from './types.js';

/**
 * One line of a list in squidGuard/UT1 syntax.
 * - `domains` files: one domain or IP address per line; a domain covers itself and its subdomains.
 *   A leading `.` or `*.` (seen in real lists: `.afshin.ir`) means the same and is dropped.
 * - `urls` files: `host/path[?query]` without a scheme; a prefix of the URL (see list-index.ts).
 * - profile allow/deny entries use either form; a `/` makes it a URL entry.
 * Hosts are normalised exactly as request hosts are, so `bücher.example` in a list equals
 * `xn--bcher-kva.example` in a request.
 *
 * Refused in every list (reason codes, worded in src/lists/entry.ts):
 * - `public-suffix`: a bare TLD or any single label (`com`, `is`, `line`; public-suffix.ts), which would
 *   cover every site beneath it.
 * A multi-label ICANN suffix (`co.uk`, `nhs.uk`) is an entry marked `suffix`: in a list file it covers the
 * names beneath it (the shipped health list holds `nhs.uk` on purpose), but imports and `lists add`
 * refuse it (src/lists/import-formats.ts, entry.ts), so garbage never writes one. A private-section
 * suffix (`github.io`, `dyndns.org`, `eth.link`) is a domain entry with `exact`: it covers that host,
 * never the sites of other people under it;
 * - `address-range`: `10.0.0.0/8`, which read as host/path would be a URL prefix that never matches.
 *   Entries match one address; ranges belong in `networks` (which maps clients, not targets).
 */
export type ParsedEntry =
  | { kind: 'skip' }
  | { kind: 'domain' | 'ip'; host: string; exact?: true; suffix?: true }
  | { kind: 'url'; host: string; hostKind: HostKind; path: string; suffix?: true }
  | { kind: 'invalid'; reason: string };

const SKIP: ParsedEntry = { kind: 'skip' };

/** A line of a `domains` file. */
export function parseDomainLine(line: string): ParsedEntry {
  const text = cleanLine(line);
  if (text === undefined) return SKIP;
  if (isAddressRange(text)) return { kind: 'invalid', reason: 'address-range' };
  if (/[/?#]/.test(text))
    return { kind: 'invalid', reason: 'a domains entry has a path; put it in the urls file' };
  return parseHostEntry(text);
}

/** A line of a `urls` file. */
export function parseUrlLine(line: string): ParsedEntry {
  const text = cleanLine(line);
  if (text === undefined) return SKIP;
  // Tolerate a scheme, which some hand-written lists carry; the rule covers http and https alike.
  const noScheme = text.replace(/^https?:\/\//i, '');
  if (isAddressRange(noScheme)) return { kind: 'invalid', reason: 'address-range' };
  const cut = noScheme.search(/[/?]/);
  const hostText = cut === -1 ? noScheme : noScheme.slice(0, cut);
  const rest = cut === -1 ? '' : noScheme.slice(cut);
  const host = parseHostEntry(hostText);
  if (host.kind !== 'domain' && host.kind !== 'ip') return host;
  // An empty path covers the whole host, like a domain entry; otherwise the path is normalised the same
  // way a request path is, so `/a/./b` in a list still matches `/a/b`.
  const path = rest === '' ? '' : normalisePath(rest.startsWith('?') ? `/${rest}` : rest);
  const hostKind = host.kind === 'ip' ? ipKind(host.host) : 'domain';
  return host.kind === 'domain' && host.suffix
    ? { kind: 'url', host: host.host, hostKind, path, suffix: true }
    : { kind: 'url', host: host.host, hostKind, path };
}

/** A profile allow/deny entry: a URL prefix if it has a path, else a domain. */
export function parseEntry(line: string): ParsedEntry {
  const text = cleanLine(line);
  if (text === undefined) return SKIP;
  return /[/?]/.test(text.replace(/^https?:\/\//i, '')) ? parseUrlLine(text) : parseDomainLine(text);
}

function cleanLine(line: string): string | undefined {
  const text = line.trim();
  if (text === '' || text.startsWith('#')) return undefined;
  return text;
}

function parseHostEntry(text: string): ParsedEntry {
  const bare = text.startsWith('*.') ? text.slice(2) : text.startsWith('.') ? text.slice(1) : text;
  // `host:80` has one colon; more (even without `::`, as in `1:2:3:4:5:6:7:8`) make an IPv6 address.
  if (bare.includes(':') && /^[^:[]*:\d+$/.test(bare)) {
    return { kind: 'invalid', reason: 'a list entry may not carry a port' };
  }
  try {
    const { host, kind } = normaliseHost(bare);
    if (kind !== 'domain') return { kind: 'ip', host };
    const suffix = suffixKind(host);
    if (suffix === 'none') return { kind: 'domain', host };
    if (suffix === 'private') return { kind: 'domain', host, exact: true };
    return host.includes('.')
      ? { kind: 'domain', host, suffix: true }
      : { kind: 'invalid', reason: 'public-suffix' };
  } catch (err) {
    if (isTargetError(err)) return { kind: 'invalid', reason: err.reason };
    throw err;
  }
}

/** `10.0.0.0/8`, `2001:db8::/32`: an address, a slash and a prefix length, nothing else. */
function isAddressRange(text: string): boolean {
  const m = /^\[?([0-9a-f.:]+)\]?\/\d{1,3}$/i.exec(text);
  return m !== null && ipaddr.isValid(m[1]!);
}

function ipKind(host: string): HostKind {
  return host.includes(':') ? 'ipv6' : 'ipv4';
}
