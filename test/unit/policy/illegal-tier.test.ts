import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/policy/decide.js';
import {
  hashedForms,
  IllegalTierBuilder,
  unusableIllegalTier,
  type IllegalTier,
} from '../../../src/policy/illegal-tier.js';
import { parseAbsoluteTarget, parseConnectTarget } from '../../../src/policy/target.js';
import type { CategoryLists, Profile } from '../../../src/policy/types.js';
import { pilotWould } from '../../../src/exchange/pilot.js';
import { lists, meta, profile, request } from './factories.js';

const NOW = new Date('2025-01-06T12:30:00Z'); // a Monday, lunchtime in Europe/London
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

/** The fixture tier: made-up names only (no real list entry is shipped or tested). */
function tier(files: Record<string, string[]>): IllegalTier {
  const b = new IllegalTierBuilder();
  for (const [name, lines] of Object.entries(files)) {
    b.startSource(name);
    for (const line of lines) {
      const out = b.addLine(line);
      if (typeof out === 'object') throw new Error(`${name}: ${line}: ${out.invalid}`);
    }
  }
  return b.build();
}

const FIXTURE = tier({
  'iwf.txt': [
    '# fixture, not a real entry',
    'abuse-domain.test',
    'shared-host.test/users/bad/',
    `sha256:${sha256('hashed-page.test/gallery/img.php?id=7')}`,
    md5('hashed-folder.test/dir/'),
    sha256('hashed-domain.test'),
  ],
  'ctiru.txt': ['terror-url.test/video', '203.0.113.9'],
});

function withTier(l: CategoryLists, t: IllegalTier = FIXTURE): CategoryLists {
  return Object.freeze({ ...l, illegal: t });
}

const base = lists(
  { social: ['facebook.com'], games: ['games.test', 'abuse-domain.test'], news: ['shared-host.test'] },
  {},
  [meta('social', { flagged: true })],
);
const L = withTier(base);

describe('the hashed form (documented in src/policy/illegal-tier.ts)', () => {
  it('is host + normalised path and query: the page, without its query, each folder, each domain', () => {
    expect(hashedForms(parseAbsoluteTarget('http://www.Example.test:8080/A/b.html?x=1#frag'))).toEqual([
      'www.example.test/A/b.html?x=1',
      'www.example.test/a/b.html?x=1',
      'www.example.test/A/b.html',
      'www.example.test/a/b.html',
      'www.example.test/A/',
      'www.example.test/a/',
      'www.example.test/',
      'example.test',
      'test',
      'www.example.test',
    ]);
  });

  it('a CONNECT (no path) is hashed as the site root and its domains', () => {
    expect(hashedForms(parseConnectTarget('a.b.test:443'))).toEqual([
      'a.b.test/',
      'b.test',
      'test',
      'a.b.test',
    ]);
  });
});

describe('tier files: one entry a line, nothing else', () => {
  it.each([
    ['sha256:' + 'a'.repeat(63), 'sha256 hash has 64'],
    ['md5:' + 'a'.repeat(31), 'md5 hash has 32'],
    ['SHA1:' + 'a'.repeat(40), undefined],
    ['http://a.test:8080/x', 'port'],
    ['a b.test', undefined],
  ])('%s is not an entry', (line, reason) => {
    const b = new IllegalTierBuilder();
    b.startSource('x.txt');
    const out = b.addLine(line);
    expect(typeof out).toBe('object');
    if (reason) expect((out as { invalid: string }).invalid).toContain(reason);
  });

  it('counts entries and hashes per file; comments and blanks are skipped', () => {
    expect(FIXTURE.state).toBe('loaded');
    expect(FIXTURE.sources).toEqual([
      { name: 'iwf.txt', entries: 5, hashed: 3 },
      { name: 'ctiru.txt', entries: 2, hashed: 0 },
    ]);
  });
});

describe('the tier blocks every spelling of an entry', () => {
  it.each([
    ['domain', 'http://abuse-domain.test/', 'illegal:iwf.txt', 'abuse-domain.test'],
    [
      'subdomain, upper case, trailing dot',
      'http://WWW.Abuse-Domain.test./x',
      'illegal:iwf.txt',
      'abuse-domain.test',
    ],
    ['encoded dot in the host', 'http://abuse-domain%2Etest/', 'illegal:iwf.txt', 'abuse-domain.test'],
    [
      'URL prefix',
      'http://shared-host.test/users/bad/page.html',
      'illegal:iwf.txt',
      'shared-host.test/users/bad/',
    ],
    [
      'URL prefix, dot segments',
      'http://shared-host.test/users/x/../bad/a',
      'illegal:iwf.txt',
      'shared-host.test/users/bad/',
    ],
    [
      'URL prefix, case',
      'http://shared-host.test/Users/BAD/a',
      'illegal:iwf.txt',
      'shared-host.test/users/bad/',
    ],
    [
      'URL prefix via an encoded slash',
      'http://shared-host.test/users%2Fbad%2Fa',
      'illegal:iwf.txt',
      'shared-host.test/users/bad/',
    ],
    [
      'sha256 page',
      'https://hashed-page.test/gallery/img.php?id=7',
      'illegal:iwf.txt',
      `sha256:${sha256('hashed-page.test/gallery/img.php?id=7')}`,
    ],
    [
      'sha256 page, escaped unreserved',
      'https://hashed-page.test/gallery/%69mg.php?id=7#x',
      'illegal:iwf.txt',
      `sha256:${sha256('hashed-page.test/gallery/img.php?id=7')}`,
    ],
    [
      'md5 folder',
      'http://hashed-folder.test/dir/sub/pic.jpg',
      'illegal:iwf.txt',
      `md5:${md5('hashed-folder.test/dir/')}`,
    ],
    [
      'sha256 domain, on a subdomain',
      'http://cdn.hashed-domain.test/a',
      'illegal:iwf.txt',
      `sha256:${sha256('hashed-domain.test')}`,
    ],
    ['CTIRU url', 'http://terror-url.test/video?id=3', 'illegal:ctiru.txt', 'terror-url.test/video'],
    ['CTIRU IP', 'http://203.0.113.9/', 'illegal:ctiru.txt', '203.0.113.9'],
    [
      'through a translator',
      'http://translate.google.com/translate?u=http://abuse-domain.test/',
      'illegal:iwf.txt',
      'abuse-domain.test',
    ],
    [
      'a Cyrillic look-alike of the domain',
      'http://аbuse-domain.test/',
      'illegal:iwf.txt',
      'abuse-domain.test',
    ],
  ])('%s: %s', (_why, url, list, entry) => {
    const d = decide(request(url), profile(), L, NOW);
    expect(d).toMatchObject({
      action: 'block',
      rule: { kind: 'illegal-tier', list, entry },
      flagged: true,
      alert: true,
    });
  });

  it.each([
    ['another page of a hashed site', 'https://hashed-page.test/gallery/img.php?id=8'],
    ['the folder beside a hashed folder', 'http://hashed-folder.test/dirx/pic.jpg'],
    ['a sibling of a URL entry', 'http://shared-host.test/users/good/'],
    ['a name that merely ends like an entry', 'http://notabuse-domain.test/'],
  ])('%s is not in the tier: %s', (_why, url) => {
    expect(decide(request(url), profile(), L, NOW).rule.kind).not.toBe('illegal-tier');
  });

  it('a CONNECT to a domain entry is decided by the tier (host level)', () => {
    const d = decide(
      { target: parseConnectTarget('abuse-domain.test:443'), method: 'CONNECT' },
      profile(),
      L,
      NOW,
    );
    expect(d.rule.kind).toBe('illegal-tier');
  });

  it('an unusable tier blocks every request as a policy error with its SG code (fail closed)', () => {
    const broken = withTier(base, unusableIllegalTier('SG_ILLEGAL_TIER_UNUSABLE', 'iwf.txt: line 3'));
    const d = decide(request('http://any.test/'), profile({ allow: ['any.test'] }), broken, NOW);
    expect(d).toMatchObject({
      action: 'block',
      rule: { kind: 'policy-error' },
      errorCode: 'SG_ILLEGAL_TIER_UNUSABLE',
    });
  });
});

// Precedence: illegal tier > profile entries > time windows > categories > default. (Per-person exceptions
// sit between the tier and profile entries; their helper adds their rows to this table.)
describe('precedence', () => {
  const lunch = {
    name: 'lunch',
    days: ['mon' as const],
    from: '12:00',
    to: '13:30',
    categories: { games: 'allow' as const },
  };
  const cases: [string, Partial<Profile>, string, string, string][] = [
    [
      'tier beats a profile allow entry',
      { allow: ['abuse-domain.test'] },
      'http://abuse-domain.test/',
      'block',
      'illegal-tier',
    ],
    [
      'tier beats an allow entry for the exact URL',
      { allow: ['shared-host.test/users/bad/x'] },
      'http://shared-host.test/users/bad/x',
      'block',
      'illegal-tier',
    ],
    [
      'tier beats an open time window allowing its category',
      { categories: { games: 'block' }, timeWindows: [lunch] },
      'http://abuse-domain.test/',
      'block',
      'illegal-tier',
    ],
    [
      'tier beats a default allow, ipLiterals allow (technician-like)',
      { name: 'technician', defaultAction: 'allow', ipLiterals: 'allow', categories: {} },
      'http://203.0.113.9/',
      'block',
      'illegal-tier',
    ],
    [
      'tier for a pilot-mode profile',
      { mode: 'monitor', allow: ['abuse-domain.test'] },
      'http://abuse-domain.test/',
      'block',
      'illegal-tier',
    ],
    [
      'deny entry beats allow entry',
      { allow: ['facebook.com'], deny: ['facebook.com'] },
      'http://facebook.com/',
      'block',
      'profile-deny',
    ],
    [
      'allow entry beats category',
      { allow: ['facebook.com'] },
      'http://facebook.com/',
      'allow',
      'profile-allow',
    ],
    [
      'allow entry beats the window',
      { categories: { games: 'block' }, allow: ['games.test'], timeWindows: [lunch] },
      'http://games.test/',
      'allow',
      'profile-allow',
    ],
    [
      'open window beats the category',
      { categories: { games: 'block' }, timeWindows: [lunch] },
      'http://games.test/',
      'allow',
      'time-window',
    ],
    [
      'category beats default',
      { defaultAction: 'block', categories: { social: 'warn' } },
      'http://facebook.com/',
      'warn',
      'category',
    ],
    ['uncategorised: allow', { defaultAction: 'allow' }, 'http://plain.test/', 'allow', 'default'],
    ['uncategorised: warn', { defaultAction: 'warn' }, 'http://plain.test/', 'warn', 'default'],
    ['uncategorised: block', { defaultAction: 'block' }, 'http://plain.test/', 'block', 'default'],
  ];
  it.each(cases)('%s', (_why, overrides, url, action, kind) => {
    const d = decide(request(url), profile(overrides), L, NOW);
    expect({ action: d.action, kind: d.rule.kind }).toEqual({ action, kind });
  });
});

describe('pilot mode lets through what enforce would block or warn, never the tier or a failed check', () => {
  const monitor = profile({
    mode: 'monitor',
    categories: { social: 'block', games: 'warn' },
    defaultAction: 'block',
  });
  it.each([
    ['category block', 'http://facebook.com/', 'block'],
    ['category warn', 'http://games.test/', 'warn'],
    ['default block', 'http://plain.test/', 'block'],
    ['illegal tier', 'http://abuse-domain.test/', undefined],
  ])('%s → would %s', (_why, url, would) => {
    const d = decide(request(url), monitor, L, NOW);
    expect(pilotWould(monitor, d)).toBe(would);
    expect(pilotWould(profile(), d)).toBeUndefined(); // enforce
  });

  it('a failed check is enforced', () => {
    const broken = withTier(base, unusableIllegalTier('SG_ILLEGAL_TIER_UNUSABLE', 'x'));
    expect(pilotWould(monitor, decide(request('http://plain.test/'), monitor, broken, NOW))).toBeUndefined();
  });
});

describe('the tier names its hit when something else blocks too', () => {
  const strict = profile({ categories: { games: 'block', news: 'block', social: 'block' } });
  it.each([
    ['the domain is also in a blocked category', 'http://abuse-domain.test/'],
    ['its look-alike is also in a blocked category', 'http://аbuse-domain.test/'],
  ])('%s', (_why, url) => {
    expect(decide(request(url), strict, L, NOW).rule.kind).toBe('illegal-tier');
  });

  it('a translator blocked by category, asked for a tier entry', () => {
    const withTranslator = withTier(
      lists({ translators: ['translate.google.com'], games: ['abuse-domain.test'] }),
    );
    const p = profile({ categories: { translators: 'block', games: 'block' } });
    const d = decide(
      request('http://translate.google.com/translate?u=http://abuse-domain.test/'),
      p,
      withTranslator,
      NOW,
    );
    expect(d).toMatchObject({ rule: { kind: 'illegal-tier' }, via: { service: 'translate.google.com' } });
  });
});
