import { describe, expect, it } from 'vitest';
import { parseDomainLine, parseEntry, parseUrlLine } from '../../../src/policy/entries.js';
import { compileEntryList, compileLists, profileEntryLists } from '../../../src/policy/lists.js';
import { parseAbsoluteTarget } from '../../../src/policy/target.js';
import { SchoolgateError } from '../../../src/errors.js';
import { ENDPOINTS, lists, meta, profile } from './factories.js';

describe('list lines parse like squidGuard/UT1 lines', () => {
  it.each([
    ['facebook.com', { kind: 'domain', host: 'facebook.com' }],
    ['  Facebook.COM  ', { kind: 'domain', host: 'facebook.com' }],
    ['A07 bücher.example', { kind: 'domain', host: 'xn--bcher-kva.example' }],
    ['.afshin.ir', { kind: 'domain', host: 'afshin.ir' }],
    ['*.example.com', { kind: 'domain', host: 'example.com' }],
    ['blocked.example.', { kind: 'domain', host: 'blocked.example' }],
    ['198.51.100.7', { kind: 'ip', host: '198.51.100.7' }],
    ['2001:db8::1', { kind: 'ip', host: '2001:db8::1' }],
    ['# a comment', { kind: 'skip' }],
    ['', { kind: 'skip' }],
    ['   ', { kind: 'skip' }],
    ['bad domain', { kind: 'invalid', reason: 'bad-host' }],
    ['a..b', { kind: 'invalid', reason: 'empty-label' }],
    ['example.com/path', { kind: 'invalid' }],
    ['example.com:8080', { kind: 'invalid' }],
  ] as const)('domains line %j', (line, expected) => {
    expect(parseDomainLine(line.replace(/^A07 /, ''))).toMatchObject(expected);
  });

  it.each([
    ['youtube.com/watch?v=abc', { kind: 'url', host: 'youtube.com', path: '/watch?v=abc' }],
    ['example.com/some/dir', { kind: 'url', host: 'example.com', path: '/some/dir' }],
    ['Example.com/Some/Dir/', { kind: 'url', host: 'example.com', path: '/Some/Dir/' }],
    ['http://example.com/a/./b', { kind: 'url', host: 'example.com', path: '/a/b' }],
    ['example.com', { kind: 'url', host: 'example.com', path: '' }],
    ['198.51.100.7/x', { kind: 'url', host: '198.51.100.7', hostKind: 'ipv4', path: '/x' }],
    ['bad host/x', { kind: 'invalid', reason: 'bad-host' }],
    ['# comment', { kind: 'skip' }],
  ] as const)('urls line %j', (line, expected) => {
    expect(parseUrlLine(line)).toMatchObject(expected);
  });

  it.each([
    ['facebook.com', 'domain'],
    ['youtube.com/watch?v=abc', 'url'],
    ['10.0.0.5', 'ip'],
  ] as const)('a profile entry %j is a %s entry', (line, kind) => {
    expect(parseEntry(line).kind).toBe(kind);
  });
});

describe('entries that would cover a TLD or never match are refused', () => {
  it.each([
    ['zip', 'public-suffix'],
    ['com', 'public-suffix'],
    ['line', 'public-suffix'],
    ['10.0.0.0/8', 'address-range'],
    ['2001:db8::/32', 'address-range'],
  ])('the domains line %j is invalid (%s)', (line, reason) => {
    expect(parseDomainLine(line)).toEqual({ kind: 'invalid', reason });
    expect(parseEntry(line)).toEqual({ kind: 'invalid', reason });
  });

  it.each([
    ['is/path', 'public-suffix'],
    ['https://10.0.0.0/8', 'address-range'],
    ['[2001:db8::]/32', 'address-range'],
  ])('the urls line %j is invalid (%s)', (line, reason) => {
    expect(parseUrlLine(line)).toEqual({ kind: 'invalid', reason });
  });

  it.each(['bbc.co.uk', 'someone.github.io', '10.0.0.8', 'example.com/8'])('%j is still an entry', (line) => {
    expect(parseEntry(line).kind).not.toBe('invalid');
  });

  it.each([
    ['*.github.io', 'github.io'],
    ['dyndns.org', 'dyndns.org'],
    ['eth.link', 'eth.link'],
  ])('a private public suffix %j is an entry for that host only', (line, host) => {
    expect(parseDomainLine(line)).toEqual({ kind: 'domain', host, exact: true });
    const l = lists({ hosting: [line] });
    const hits = (url: string) => l.match(parseAbsoluteTarget(url)).map((m) => m.entry);
    expect(hits(`https://${host}/`)).toEqual([host]);
    expect(hits(`https://someone.${host}/`)).toEqual([]);
  });

  it('a sector suffix in a list file covers the names beneath it (the shipped health list holds nhs.uk)', () => {
    expect(parseDomainLine('nhs.uk')).toEqual({ kind: 'domain', host: 'nhs.uk', suffix: true });
    expect(parseUrlLine('co.uk/x')).toMatchObject({ kind: 'url', host: 'co.uk', suffix: true });
    const l = lists({ health: ['nhs.uk'] });
    const hits = l.match(parseAbsoluteTarget('https://www.nhs.uk/conditions/')).map((m) => m.entry);
    expect(hits).toEqual(['nhs.uk']);
  });

  it('a list file with a TLD line does not compile', () => {
    expect(() => lists({ tld: ['zip'] })).toThrow(/public-suffix/);
  });
});

describe('category lists match by label boundary, in O(labels)', () => {
  const l = lists(
    {
      social: ['facebook.com', 'xn--bcher-kva.example', '198.51.100.7'],
      chat: ['chat.example', 'facebook.com'],
    },
    {
      video: [
        'youtube.com/watch?v=abc',
        'example.com/dir',
        'example.com/open/',
        '198.51.100.8/x',
        'Case.example/MiXed',
      ],
    },
  );
  const hits = (url: string): string[] =>
    l.match(parseAbsoluteTarget(url)).map((m) => `${m.list}:${m.entry}`);

  it.each([
    ['A05 the domain itself', 'http://facebook.com/', ['social:facebook.com', 'chat:facebook.com']],
    ['A05 a subdomain', 'http://m.facebook.com/', ['social:facebook.com', 'chat:facebook.com']],
    ['A05 a deep subdomain', 'http://a.b.c.facebook.com/', ['social:facebook.com', 'chat:facebook.com']],
    ['A05 never a name that merely ends the same', 'http://notfacebook.com/', []],
    ['a parent is not covered by a child entry', 'http://example/', []],
    ['A07 IDN request, punycode list', 'http://bücher.example/', ['social:xn--bcher-kva.example']],
    ['A08 Cyrillic look-alike is a different domain', 'http://fаcebook.com/', []],
    ['no TLD entry can exist, so a TLD covers nothing', 'http://evil.zip/', []],
    ['IP entry matches the address', 'http://198.51.100.7/', ['social:198.51.100.7']],
    ['IP entry matches the decimal form', 'http://3325256711/', ['social:198.51.100.7']],
    ['no label walk over an IP', 'http://10.51.100.7/', []],
    ['URL rule: exact path and query', 'http://youtube.com/watch?v=abc', ['video:youtube.com/watch?v=abc']],
    [
      'URL rule: more parameters after',
      'http://www.youtube.com/watch?v=abc&t=1',
      ['video:youtube.com/watch?v=abc'],
    ],
    ['URL rule: a longer value is another video', 'http://youtube.com/watch?v=abcd', []],
    ['URL rule: other video', 'http://youtube.com/watch?v=xyz', []],
    ['URL rule: directory itself', 'http://example.com/dir', ['video:example.com/dir']],
    ['URL rule: below the directory', 'http://example.com/dir/x', ['video:example.com/dir']],
    ['URL rule: directory with query', 'http://example.com/dir?x=1', ['video:example.com/dir']],
    ['URL rule: never a longer name', 'http://example.com/directory', []],
    ['B13 URL rule sees the normalised path', 'http://example.com//x/../%64ir/y', ['video:example.com/dir']],
    ['URL rule: case-insensitive path', 'http://example.com/DIR/x', ['video:example.com/dir']],
    ['URL rule written in capitals', 'http://case.example/mixed', ['video:case.example/MiXed']],
    [
      'URL rule ending in / is a plain prefix',
      'http://example.com/open/anything',
      ['video:example.com/open/'],
    ],
    ['URL rule on an IP host', 'http://198.51.100.8/x', ['video:198.51.100.8/x']],
    ['URL rule on an IP host, other path', 'http://198.51.100.8/y', []],
  ])('%s: %s', (_id, url, expected) => {
    expect(hits(url)).toEqual(expected);
  });

  it('exposes category metadata', () => {
    expect(l.categories.get('social')).toMatchObject({ name: 'social', title: 'social' });
  });
});

describe('compileLists refuses what it cannot index', () => {
  it('an invalid line is an SG_CATEGORY_INVALID error naming the line', () => {
    expect(() =>
      compileLists({
        meta: [meta('social')],
        domains: new Map([['social', ['ok.example', 'bad host']]]),
        urls: new Map(),
        endpoints: ENDPOINTS,
      }),
    ).toThrow(
      expect.objectContaining({ code: 'SG_CATEGORY_INVALID', context: expect.objectContaining({ line: 2 }) }),
    );
  });

  it('a list without metadata is an SG_CATEGORY_INVALID error', () => {
    expect(() =>
      compileLists({
        meta: [],
        domains: new Map([['ghost', ['a.example']]]),
        urls: new Map(),
        endpoints: ENDPOINTS,
      }),
    ).toThrow(SchoolgateError);
  });

  it('the compiled lists are frozen', () => {
    expect(Object.isFrozen(lists({ social: ['a.example'] }))).toBe(true);
  });
});

describe('profile allow/deny lists use the same semantics and compile once per profile', () => {
  it('matches domains, subdomains and URL prefixes', () => {
    const list = compileEntryList('profile:pupil:deny', ['facebook.com', 'youtube.com/watch?v=abc']);
    expect(list.match(parseAbsoluteTarget('http://m.facebook.com/')).map((m) => m.entry)).toEqual([
      'facebook.com',
    ]);
    expect(list.match(parseAbsoluteTarget('http://notfacebook.com/'))).toEqual([]);
    expect(list.match(parseAbsoluteTarget('http://youtube.com/watch?v=abc'))[0]).toMatchObject({
      list: 'profile:pupil:deny',
      kind: 'url',
    });
  });

  it('an invalid entry is an SG_CONFIG_INVALID error', () => {
    expect(() => compileEntryList('profile:pupil:allow', ['ok.example', 'bad host'])).toThrow(
      expect.objectContaining({ code: 'SG_CONFIG_INVALID' }),
    );
  });

  it('returns the same compiled lists for the same profile object', () => {
    const p = profile({ deny: ['a.example'] });
    expect(profileEntryLists(p)).toBe(profileEntryLists(p));
    expect(profileEntryLists({ ...p })).not.toBe(profileEntryLists(p));
  });
});
