/**
 * Generated spellings of search and translate URLs (issue 11, item 3). fast-check is not installed, so the
 * generator is a seeded PRNG loop: every run draws the same cases, and a failure names its case number
 * and URL. Property: whenever Node's WHATWG URL parser plus RFC 3986 equivalence (unreserved characters
 * percent-encoded or not, dot segments) and the engine's documented syntax reach the search page, the
 * proxy's rewrite forces SafeSearch (exactly one value of the parameter, the forced one) and captures the
 * term; whenever the translator's target parses (WHATWG) to the blocked host, the request is blocked.
 */
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/policy/decide.js';
import { safeSearchRewrite } from '../../../src/policy/safesearch.js';
import { extractSearchTerm } from '../../../src/policy/search-terms.js';
import { parseAbsoluteTarget } from '../../../src/policy/target.js';
import { rawPathOf } from '../../../src/proxy/raw-checks.js';
import { ENDPOINTS, profile, standardLists } from './factories.js';

const CASES = 600;

/** mulberry32: small, seeded, good enough to draw test cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const chance = (r: Rand, p: number): boolean => r() < p;

/** Percent-encodes some characters (RFC 3986: the same resource), in either hex case. */
function encodeSome(r: Rand, s: string, p = 0.3): string {
  return [...s]
    .map((c) => {
      if (!chance(r, p)) return c;
      const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
      return `%${chance(r, 0.5) ? hex.toUpperCase() : hex}`;
    })
    .join('');
}

/** A spelling of `/a/b` that WHATWG resolves (dot segments) or servers fold (duplicate slashes) to it. */
function spellPath(r: Rand, path: string): string {
  const segments = path.split('/').filter(Boolean);
  let out = '';
  for (const segment of segments) {
    if (chance(r, 0.2)) out += '/.';
    if (chance(r, 0.2)) out += `/${pick(r, ['x', 'images', 'y'])}/..`;
    out += chance(r, 0.3) ? '//' : '/';
    out += encodeSome(r, segment);
  }
  if (chance(r, 0.3) && path !== '/') out += '/';
  return out || '/';
}

function shuffle<T>(r: Rand, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

const ENGINES = [
  {
    host: 'www.google.com',
    paths: ['/search', '/imghp', '/webhp'],
    term: 'q',
    safe: ['safe', 'active'],
    forms: false,
  },
  { host: 'www.google.co.uk', paths: ['/search'], term: 'q', safe: ['safe', 'active'], forms: false },
  {
    host: 'www.bing.com',
    paths: ['/search', '/images/search'],
    term: 'q',
    safe: ['adlt', 'strict'],
    forms: false,
  },
  { host: 'html.duckduckgo.com', paths: ['/html'], term: 'q', safe: ['kp', '1'], forms: true },
  { host: 'lite.duckduckgo.com', paths: ['/lite'], term: 'q', safe: ['kp', '1'], forms: true },
  { host: 'duckduckgo.com', paths: ['/'], term: 'q', safe: ['kp', '1'], forms: true },
] as const;

/** `name=value` pairs: the term, a hostile SafeSearch parameter in some spelling, and noise. */
function spellQuery(r: Rand, termParam: string, term: string, safeParam: string): string[] {
  const pairs = [
    `${encodeSome(r, termParam, 0.3)}=${chance(r, 0.5) ? encodeURIComponent(term) : encodeURIComponent(term).replace(/%20/g, '+')}`,
  ];
  if (chance(r, 0.6)) {
    const key = chance(r, 0.5) ? safeParam.toUpperCase() : encodeSome(r, safeParam, 0.5);
    pairs.push(`${key}=${pick(r, ['off', '-2', 'images', '0'])}`);
  }
  if (chance(r, 0.5)) pairs.push(`${pick(r, ['hl', 'ia', 'form', 't'])}=${pick(r, ['en', 'web', 'QBLH'])}`);
  return shuffle(r, pairs);
}

/** What the engine reads from a query: every value of the (case-insensitive, decoded) parameter. */
function valuesOf(query: string, name: string): string[] {
  const out: string[] = [];
  for (const [k, v] of new URLSearchParams(query)) if (k.toLowerCase() === name) out.push(v);
  return out;
}

describe('generated spellings of searches get SafeSearch and their term captured', () => {
  it(`holds for ${CASES} seeded cases`, () => {
    const r = prng(0x5c0091);
    for (let n = 0; n < CASES; n++) {
      const engine = pick(r, ENGINES);
      const term = pick(r, ['how to revise', 'café', 'a+b', 'x']);
      const host = chance(r, 0.3) ? engine.host.toUpperCase() : engine.host;
      const path = spellPath(r, pick(r, engine.paths));
      const pairs = spellQuery(r, engine.term, term, engine.safe[0]);
      const post = engine.forms && chance(r, 0.4);
      const url = `https://${host}${path}${post ? '' : `?${pairs.join('&')}`}`;
      const form = post ? pairs.join('&') : undefined;
      const where = `case ${n}: ${url}${form ? ` body ${form}` : ''}`;

      // The oracle: WHATWG resolves the path; RFC 3986 equivalence decodes unreserved escapes.
      const page = decodeURIComponent(new URL(url).pathname)
        .replace(/\/+/g, '/')
        .replace(/(.)\/$/, '$1');
      expect(engine.paths as readonly string[], where).toContain(page);

      const target = parseAbsoluteTarget(url);
      const rewrite = safeSearchRewrite(
        ENDPOINTS,
        target,
        rawPathOf(url),
        { safeSearch: true, youtubeRestrict: 'off' },
        form,
      );
      const [param, value] = engine.safe;
      const sent = rewrite.pathAndQuery.slice(rewrite.pathAndQuery.indexOf('?') + 1);
      if (post) expect(valuesOf(rewrite.form ?? '', param), where).toEqual([value]);
      expect(valuesOf(sent, param), where).toEqual([value]);
      expect(rewrite.rewrites, where).toEqual([`${param}=${value}`]);
      const captured = extractSearchTerm(
        ENDPOINTS,
        target,
        form === undefined ? undefined : new URLSearchParams(form),
      );
      expect(captured?.term, where).toBe(term);
    }
  });
});

const TRANSLATORS = [
  { host: 'translate.google.com', path: '/translate', param: 'u', forms: true },
  { host: 'translate.google.de', path: '/translate', param: 'u', forms: true },
  { host: 'translate.yandex.com', path: '/translate', param: 'url', forms: true },
] as const;

/** A spelling of http(s)://blocked.example/page that WHATWG parses to that host. */
function spellTarget(r: Rand): string {
  const scheme = pick(r, ['http', 'https', 'HTTP', 'hTTps']);
  const host = pick(r, ['blocked.example', 'BLOCKED.example', 'www.blocked.example', 'blocked.example.']);
  const sep = pick(r, ['://', ':/', ':\\\\', '://fine.example@', ':']);
  const port = chance(r, 0.2) ? (scheme.toLowerCase() === 'http' ? ':80' : ':443') : '';
  const prefix = chance(r, 0.2) ? pick(r, [' ', '\t', '\n']) : '';
  const page = pick(r, ['/', '/page', '/a/../page', '']);
  return chance(r, 0.15) ? `${host}${page}` : `${prefix}${scheme}${sep}${host}${port}${page}`;
}

describe('generated spellings of translator targets are decided as the target', () => {
  it(`holds for ${CASES} seeded cases`, () => {
    const lists = standardLists();
    const pupil = profile();
    const now = new Date('2025-01-06T10:00:00Z');
    const r = prng(0x7a41);
    for (let n = 0; n < CASES; n++) {
      const t = pick(r, TRANSLATORS);
      const target = spellTarget(r);
      const encoded = chance(r, 0.5)
        ? encodeURIComponent(target)
        : encodeSome(r, target, 0.2).replace(/[&\s\\#]/g, (c) => encodeURIComponent(c));
      const pairs = shuffle(r, [`${t.param}=${encoded}`, ...(chance(r, 0.5) ? ['sl=auto', 'tl=en'] : [])]);
      const post = t.forms && chance(r, 0.3);
      const url = `https://${t.host}${spellPath(r, t.path)}${post ? '' : `?${pairs.join('&')}`}`;
      const form = post ? new URLSearchParams(pairs.join('&')) : undefined;
      const where = `case ${n}: ${url}${post ? ` body ${pairs.join('&')}` : ''}`;

      // The oracle: the service's own parser (WHATWG) reaches the blocked host.
      const value = (form ?? new URL(url).searchParams).get(t.param)!;
      const withScheme = /^\s*[a-z][a-z0-9+.-]*:/i.test(value) ? value : `http://${value}`;
      expect(new URL(withScheme).hostname.replace(/\.$/, ''), where).toMatch(/(^|\.)blocked\.example$/);

      const d = decide(
        { target: parseAbsoluteTarget(url), method: post ? 'POST' : 'GET', ...(form ? { form } : {}) },
        pupil,
        lists,
        now,
      );
      expect(d.action, where).toBe('block');
      expect(d.via?.target.host ?? '', where).toMatch(/(^|\.)blocked\.example$/);
    }
  });
});
