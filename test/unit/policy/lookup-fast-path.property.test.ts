/**
 * decide()'s lookup fast paths (lookup-fast-path.ts: the URL regex prefilter, the shared host walk, the
 * endpoint host test) change no decision: the same request decided with them on and off gives equal
 * decisions, on generated URLs built from the pieces UT1's expressions look for, on hostile-inputs.md §6
 * style URLs, and on URLs that do match each UT1 expression (which must still be found with the fast path).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { compileExceptions } from '../../../src/policy/exceptions.js';
import { decide } from '../../../src/policy/decide.js';
import { CategoryListsBuilder } from '../../../src/policy/lists.js';
import { lookupFastPath } from '../../../src/policy/lookup-fast-path.js';
import { parseAbsoluteTarget } from '../../../src/policy/target.js';
import type { CategoryLists, Decision, PolicyRequest } from '../../../src/policy/types.js';
import { fuzzParams } from '../../fuzz/fuzz.js';
import { ENDPOINTS, meta, profile } from './factories.js';
import { UT1_EXPRESSIONS } from './ut1-expressions.js';

const NOW = new Date('2025-01-06T10:00:00Z');

function ut1LikeLists(): CategoryLists {
  const b = new CategoryListsBuilder();
  for (const { list } of UT1_EXPRESSIONS) b.addCategory(meta(list));
  for (const name of ['social', 'adult', 'hosting']) b.addCategory(meta(name, { flagged: name === 'adult' }));
  for (const { list, source } of UT1_EXPRESSIONS) expect(b.addExpressionLine(list, source)).toBe('added');
  for (const line of ['facebook.com', 'blocked.example', 'xn--bcher-kva.example'])
    b.addDomainLine('social', line);
  for (const line of ['adult.example', '198.51.100.7', 'porn.example']) b.addDomainLine('adult', line);
  b.addDomainLine('hosting', 'github.io'); // a private suffix: an exact-host entry
  b.addUrlLine('social', 'youtube.com/watch?v=abc');
  b.addUrlLine('adult', 'news.example/adverts/');
  const lists = b.build(ENDPOINTS);
  return {
    ...lists,
    exceptions: compileExceptions([
      { id: 1, site: 'games.example', action: 'allow', scope: { kind: 'everyone' }, expiresAt: null },
      {
        id: 2,
        site: 'news.example/sponsor',
        action: 'block',
        scope: { kind: 'profile', name: 'pupil' },
        expiresAt: null,
      },
      { id: 3, site: 'facebook.com', action: 'allow', scope: { kind: 'user', name: 'ann' }, expiresAt: null },
    ]),
  };
}

const LISTS = ut1LikeLists();
const PROFILE = profile({
  categories: Object.fromEntries(
    [...LISTS.categories.keys()].map((c) => [c, c === 'hosting' ? 'warn' : 'block']),
  ),
  allow: ['allowed.example', 'google.de'],
  deny: ['denied.example', 'images.google.com/images'],
});

function request(url: string, user: string | null): PolicyRequest | undefined {
  try {
    return { target: parseAbsoluteTarget(url), method: 'GET', user };
  } catch {
    return undefined; // refused before any decision (R400): no lookup to compare
  }
}

/**
 * Each request decided on the slow path, then all of them on the fast path one after another (so state a
 * fast path keeps from one lookup to the next, such as the last host walked, is exercised).
 */
function decideAll(requests: PolicyRequest[]): { fast: Decision[]; slow: Decision[] } {
  lookupFastPath.enabled = false;
  const slow = requests.map((r) => decide(r, PROFILE, LISTS, NOW));
  lookupFastPath.enabled = true;
  const fast = requests.map((r) => decide(r, PROFILE, LISTS, NOW));
  return { fast, slow };
}

function decideBoth(url: string, user: string | null = null): { fast: Decision; slow: Decision } | undefined {
  const r = request(url, user);
  if (r === undefined) return undefined;
  const { fast, slow } = decideAll([r]);
  return { fast: fast[0]!, slow: slow[0]! };
}

afterEach(() => {
  lookupFastPath.enabled = true;
});

const regexLists = (d: Decision) => d.matches.filter((m) => m.kind === 'regex').map((m) => m.list);

describe('the fast path finds every UT1 expression where the regex matches', () => {
  it.each([
    ['http://news.example/img/banner/1.png', 'publicite'],
    ['http://news.example/IMG/BANNER/1.png', 'publicite'],
    ['http://news.example/event.ng/x', 'publicite'],
    ['http://news.example/eventXng/x', 'publicite'],
    ['http://news.example/x/Advertisement/', 'publicite'],
    ['http://news.example/myadverts/', 'publicite'],
    ['http://news.example/%62anner/', 'publicite'],
    ['http://news.example/\u017Fponsor/', 'publicite'], // ſ folds with s in case-insensitive RE2
    ['http://198.51.100.9/search?q=123', 'malware'],
    ['http://3325256713/search?q=4', 'malware'],
    ['http://www.google.com/search?q=cache:abc', 'strict_redirector'],
    ['http://www.GOOGLE.co.uk/SEARCH?Q=CACHE', 'strict_redirector'],
    ['http://images.google.fr/images?q=tbn:x', 'strict_redirector'],
    ['http://alltheweb.com/search?x=1&cat=img', 'strict_redirector'],
    ['http://re2.mm-.yimg.com/image/1', 'strict_redirector'],
    ['http://www.google.com/search?q=cache:sex', 'strong_redirector'],
    ['http://www.bing.com/videos/search?q=teen', 'strong_redirector'],
    ['http://images.google.fr/images?hl=fr&q=nude', 'strong_redirector'],
    ['http://images.aol.com/image?query=hot', 'strong_redirector'],
    ['http://altavista.com/video/results?q=xxx', 'strong_redirector'],
    ['http://images.search.yahoo.com/videos?p=babe', 'strong_redirector'],
    ['http://images.search.yahoo.com/images?p=\u212Aitten', 'strong_redirector'], // K (Kelvin) folds with k: no word, no match
  ])('%s → %s', (url, list) => {
    const both = decideBoth(url);
    expect(both).toBeDefined();
    expect(both!.fast).toEqual(both!.slow);
    if (url.includes('\u212A')) expect(regexLists(both!.fast)).not.toContain(list);
    else expect(regexLists(both!.fast)).toContain(list);
  });
});

// hostile-inputs.md §6 A01–A14 and path readings (`;params`, `%2F`, double encoding), decided both ways.
const HOSTILE = [
  'http://blocked.example/',
  'http://BLOCKED.Example/',
  'http://blocked.example./',
  'http://blocked.example../',
  'http://a.b.blocked.example/',
  'http://notblocked.example/',
  'http://ｂｌｏｃｋｅｄ.example/',
  'http://blocked。example/',
  'http://blo%E2%80%8Bcked.example/',
  'http://bücher.example/',
  'http://xn--bcher-kva.example/',
  'http://blоcked.example/', // Cyrillic о
  'http://pоrn.example/banner/', // Cyrillic о, and an expression's literal
  'http://2130706433/',
  'http://0x7f.1/search?q=1',
  'http://127.1/',
  'http://[::ffff:7f00:1]/',
  'http://[2001:db8::1]/search?q=12',
  'http://allowed.com@blocked.example/',
  'http://blocked%2Eexample/',
  'http://translate.google.com/translate?u=http://blocked.example/',
  'http://translate.google.com/translate?u=http://news.example/banner/',
  'http://blocked-example.translate.goog/',
  'http://news-example.translate.goog/sponsor/x',
  'http://web.archive.org/web/2020/http://blocked.example/',
  'http://web.archive.org/web/2020/http://www.google.com/search?q=cache:sex',
  'http://news.example/a;x/../banner/',
  'http://news.example/ok/..;/banner/',
  'http://news.example/a%2Fbanner%2F',
  'http://news.example/a%252Fbanner%252F',
  'http://user.github.io/',
  'http://github.io/',
  'http://youtube.com/watch?v=abc',
  'http://youtube.com/watch?v=abcd',
  'http://games.example/banner/',
  'http://google.de/search?q=cache:porn',
  'http://images.google.com/images?q=tbn:porn',
  'http://facebook.com/sponsor/',
];

describe('hostile-input URLs get the same decision with and without the fast path', () => {
  it.each(HOSTILE)('%s', (url) => {
    for (const user of [null, 'ann']) {
      const both = decideBoth(url, user);
      if (both !== undefined) expect(both.fast).toEqual(both.slow);
    }
  });

  it('all of them in one run, then in reverse', () => {
    const requests = HOSTILE.flatMap((url) => request(url, null) ?? []);
    for (const batch of [requests, [...requests].reverse()]) {
      const { fast, slow } = decideAll(batch);
      expect(fast).toEqual(slow);
    }
  });
});

const host = fc
  .tuple(
    fc.constantFrom('', 'www.', 'a.b.', 'images.', 're2.mm-.', 'cdn1.static.'),
    fc.constantFrom(
      'google.com',
      'google.co.uk',
      'google.de',
      'GOOGLE.FR',
      'bing.com',
      'alltheweb.com',
      'yimg.com',
      'aol.com',
      'altavista.com',
      'search.yahoo.com',
      'news.example',
      'site1.example.org',
      'blocked.example',
      'porn.example',
      'github.io',
      'translate.google.com',
      'web.archive.org',
      'blocked-example.translate.goog',
      'youtube.com',
      'games.example',
      'denied.example',
      'allowed.example',
      'xn--bcher-kva.example',
      'blоcked.example',
    ),
  )
  .map(([sub, name]) => `${sub}${name}`);
const ipHost = fc.constantFrom('198.51.100.7', '198.51.100.9', '3325256713', '[2001:db8::1]', '127.1');
const segment = fc.constantFrom(
  'search',
  'SEARCH',
  'images',
  'image',
  'videos',
  'video',
  'results',
  'banner',
  'BANNER',
  'sponsor',
  'event.ng',
  'eventxng',
  'Advertisement',
  'adverts',
  'myadverts',
  'x',
  '..',
  '.',
  'a;x',
  '%2F',
  '%62anner',
  '%252F',
  'web',
  '2020',
  'http:',
  'blocked.example',
  'watch',
  '\u017Fponsor',
  '\u212Aey',
  'caf\u00e9',
);
const query = fc.constantFrom(
  '',
  '?q=cache:porn',
  '?q=12',
  '?q=cachesex',
  '?Q=CACHE',
  '?q=tbn:x',
  '?cat=img&q=xxx',
  '?query=hot',
  '?p=girl',
  '?u=http://blocked.example/',
  '?v=abc',
  '?url=http://adult.example/',
  '?q=cache\u017Fex',
);
const url = fc
  .tuple(fc.oneof(host, host, ipHost), fc.array(segment, { maxLength: 4 }), query, fc.boolean())
  .map(([h, segments, q, slash]) => `http://${h}/${segments.join('/')}${slash ? '/' : ''}${q}`);

describe('generated URLs get the same decision with and without the fast path', () => {
  it('decides equal', () => {
    let regexHits = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(url, fc.constantFrom(null, 'ann')), { minLength: 1, maxLength: 6 }),
        (urls) => {
          const requests = urls.flatMap(([u, user]) => request(u, user) ?? []);
          const { fast, slow } = decideAll(requests);
          expect(fast).toEqual(slow);
          regexHits += fast.filter((d) => regexLists(d).length > 0).length;
        },
      ),
      fuzzParams(1000),
    );
    // The generator reaches the expressions often enough for the comparison to mean something.
    expect(regexHits).toBeGreaterThan(50);
  });
});
