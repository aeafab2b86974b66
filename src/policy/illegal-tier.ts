/**
 * The illegal-content tier (pure, no I/O): the IWF child-abuse URL list and the CTIRU terrorist content
 * list, as the school's provider supplies them. It decides before everything else (decide.ts): no profile,
 * exception, time window, Continue or pilot mode reaches an address it holds, and nothing in this module
 * can be told to let one through: there is no allow entry, no removal, no switch.
 *
 * Entries, one a line (the loader, src/lists/illegal-tier-files.ts, reads them from files):
 * - a domain (`example.com`, covers its subdomains) or an IP address, as in category `domains` files;
 * - a URL prefix (`example.com/path`, scheme tolerated), matched as category `urls` entries are;
 * - a hashed URL: `sha256:<64 hex>` or `md5:<32 hex>` (a bare 64- or 32-digit hex string reads the same).
 *
 * THE HASHED FORM (what a provider hashes, and what we hash for each request): the hex digest of the UTF-8
 * bytes of `host + path`, where host is the canonical host of src/policy/target.ts (lower case, IDN as
 * punycode, no trailing dot, IPv6 without brackets) and path is its normalised path and query (fragment
 * dropped, unreserved escapes decoded, dot segments resolved, `/` for a bare host). No scheme, no port, no
 * `www.` stripping: `example.com/a/b.html?id=1`. Each request is hashed in these forms, so an entry may
 * name a page, a folder or a whole site:
 *   - the full `host + path` (with its query), and without the query;
 *   - every folder above it: `host/`, `host/a/`, `host/a/b/`;
 *   - the host and every parent domain alone (`sub.example.com`, `example.com`): a hashed domain entry.
 * Each form is hashed as it is and lower-cased (hosts are lower case already; a provider that lower-cases
 * URLs before hashing, as lists matched case-insensitively do, still matches a mixed-case path). SHA-256
 * and MD5 are both read because providers distribute either; a form is only hashed with an algorithm the
 * loaded files use, so a tier of plain entries costs no hashing.
 */
import { hash } from 'node:crypto';
import { parseEntry } from './entries.js';
import { pathReadings } from './path-readings.js';
import { ListIndex } from './list-index.js';
import { addParsed } from './lists.js';
import type { Decision, ListMatch, Target } from './types.js';

export type HashAlgorithm = 'sha256' | 'md5';

const HEX_LENGTH: Record<HashAlgorithm, number> = { sha256: 64, md5: 32 };

/** One file of the tier as loaded: its name is the list's name in rows, `status` and alerts. */
export interface IllegalSource {
  /** The file name, e.g. `iwf.txt`. */
  name: string;
  entries: number;
  hashed: number;
}

export interface IllegalMatch {
  /** The file the entry came from. */
  source: string;
  /** The entry as written in the list (a hash as `sha256:<hex>`). */
  entry: string;
  kind: ListMatch['kind'];
}

/**
 * The tier in force. `unusable` blocks every request (fail closed): it is what a start gets when a tier
 * file is missing, unreadable or corrupt (a reload keeps the previous tier instead, src/app/reload.ts).
 */
export type IllegalTier =
  | {
      readonly state: 'loaded' | 'none';
      readonly sources: readonly IllegalSource[];
      match(target: Target): IllegalMatch | undefined;
    }
  | {
      readonly state: 'unusable';
      readonly sources: readonly IllegalSource[];
      /** The SG code and the message of the failure. */
      readonly code: string;
      readonly message: string;
    };

export const EMPTY_ILLEGAL_TIER: IllegalTier = Object.freeze({
  state: 'none' as const,
  sources: Object.freeze([]),
  match: () => undefined,
});

export function unusableIllegalTier(code: string, message: string): IllegalTier {
  return Object.freeze({ state: 'unusable' as const, sources: Object.freeze([]), code, message });
}

/** What one line did: the loader refuses a file with any invalid line (a provider's file is machine-made). */
export type IllegalLine = 'added' | 'skipped' | { invalid: string };

const PREFIXED_HASH = /^(sha256|md5):([0-9a-fA-F]+)$/;
const BARE_HASH = /^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{64})$/;

export class IllegalTierBuilder {
  private readonly index = new ListIndex();
  private readonly hashes: Record<HashAlgorithm, Map<string, string>> = { sha256: new Map(), md5: new Map() };
  private readonly sources: IllegalSource[] = [];
  private current: IllegalSource | undefined;
  private built = false;

  /** Starts the next file; its lines follow through addLine(). */
  startSource(name: string): void {
    if (this.built) throw new Error('IllegalTierBuilder.build() was already called');
    this.current = { name, entries: 0, hashed: 0 };
    this.sources.push(this.current);
  }

  addLine(line: string): IllegalLine {
    const source = this.current;
    if (source === undefined || this.built) throw new Error('IllegalTierBuilder: startSource first');
    const text = line.trim();
    if (text === '' || text.startsWith('#')) return 'skipped';
    const hash = readHash(text);
    if (hash !== undefined) {
      if ('invalid' in hash) return hash;
      const map = this.hashes[hash.algorithm];
      if (!map.has(hash.hex)) map.set(hash.hex, source.name);
      source.entries++;
      source.hashed++;
      return 'added';
    }
    const outcome = addParsed(this.index, source.name, parseEntry(text));
    if (outcome !== 'added') return outcome;
    source.entries++;
    return 'added';
  }

  build(): IllegalTier {
    if (this.built) throw new Error('IllegalTierBuilder.build() was already called');
    this.built = true;
    const { index, hashes } = this;
    const algorithms = (Object.keys(hashes) as HashAlgorithm[]).filter((a) => hashes[a].size > 0);
    const sources = Object.freeze(this.sources.map((s) => Object.freeze({ ...s })));
    return Object.freeze({
      state: sources.some((s) => s.entries > 0) ? ('loaded' as const) : ('none' as const),
      sources,
      match(target: Target): IllegalMatch | undefined {
        const listed = index.match(target)[0];
        if (listed !== undefined) return { source: listed.list, entry: listed.entry, kind: listed.kind };
        if (algorithms.length === 0) return undefined;
        const forms = hashedForms(target);
        for (const algorithm of algorithms) {
          const table = hashes[algorithm];
          for (const form of forms) {
            // The one-shot hash (Node ≥ 20.12): no Hash object per form, about 3× cheaper here.
            const hex = hash(algorithm, form, 'hex');
            const source = table.get(hex);
            if (source !== undefined) return { source, entry: `${algorithm}:${hex}`, kind: 'url' };
          }
        }
        return undefined;
      },
    });
  }
}

function readHash(text: string): { algorithm: HashAlgorithm; hex: string } | { invalid: string } | undefined {
  const prefixed = PREFIXED_HASH.exec(text);
  if (prefixed) {
    const algorithm = prefixed[1] as HashAlgorithm;
    const hex = prefixed[2]!.toLowerCase();
    if (hex.length !== HEX_LENGTH[algorithm])
      return { invalid: `a ${algorithm} hash has ${HEX_LENGTH[algorithm]} hex digits, not ${hex.length}` };
    return { algorithm, hex };
  }
  if (/^(sha256|md5):/i.test(text)) return { invalid: 'a hash is written sha256:<hex> or md5:<hex>' };
  if (BARE_HASH.test(text))
    return { algorithm: text.length === 64 ? 'sha256' : 'md5', hex: text.toLowerCase() };
  return undefined;
}

/**
 * The strings a request is hashed in (see the module comment): the page, the page without its query, each
 * folder above it, then the host and each parent domain. Each also lower-cased when that differs.
 */
export function hashedForms(target: Target): string[] {
  const host = target.host;
  const forms: string[] = [];
  const add = (s: string): void => {
    if (!forms.includes(s)) forms.push(s);
    const lower = s.toLowerCase();
    if (lower !== s && !forms.includes(lower)) forms.push(lower);
  };
  const path = target.path === '' ? '/' : target.path;
  add(host + path);
  const q = path.indexOf('?');
  const bare = q === -1 ? path : path.slice(0, q);
  add(host + bare);
  for (let slash = bare.lastIndexOf('/'); slash >= 0; slash = bare.lastIndexOf('/', slash - 1)) {
    add(host + bare.slice(0, slash + 1));
    if (slash === 0) break;
  }
  if (target.hostKind === 'domain') {
    for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) add(host.slice(dot + 1));
  }
  add(host);
  return forms;
}

/** The rule text's list for a tier entry: `illegal:<file>`. */
export const ILLEGAL_LIST_PREFIX = 'illegal:';

/**
 * The tier's decision for a request, on every reading of its path an upstream could take (path-readings.ts),
 * or undefined when the tier holds none of them. An unusable tier blocks everything (fail closed).
 */
export function illegalTierDecision(
  tier: IllegalTier | undefined,
  target: Target,
  profile: string,
): Decision | undefined {
  if (tier === undefined || tier.state === 'none') return undefined;
  if (tier.state === 'unusable')
    return {
      action: 'block',
      profile,
      categories: [],
      rule: { kind: 'policy-error', list: 'illegal-tier', entry: '' },
      matches: [],
      flagged: false,
      alert: false,
      explanation:
        'Blocked: the illegal-content list could not be loaded, so the filter blocks every page until IT fixes it.',
      error: tier.message,
      errorCode: tier.code,
    };
  for (const path of pathReadings(target.path)) {
    const match = tier.match(path === target.path ? target : { ...target, path });
    if (match === undefined) continue;
    const list = `${ILLEGAL_LIST_PREFIX}${match.source}`;
    return {
      action: 'block',
      profile,
      categories: [],
      rule: { kind: 'illegal-tier', list, entry: match.entry },
      matches: [{ list, entry: match.entry, kind: match.kind }],
      flagged: true,
      alert: true,
      explanation:
        'Blocked for everyone: this address is on a list of illegal content that the law requires every ' +
        'school to block. It cannot be unblocked.',
    };
  }
  return undefined;
}
