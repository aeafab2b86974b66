import { describe, expect, it } from 'vitest';
import { decide, decideSafely } from '../../../src/policy/decide.js';
import type { CategoryLists, Profile, TimeWindow } from '../../../src/policy/types.js';
import { parseConnectTarget } from '../../../src/policy/target.js';
import { ENDPOINTS, lists, profile, request, standardLists } from './factories.js';

const NOW = new Date('2025-01-06T10:00:00Z'); // a Monday morning, Europe/London
const l = standardLists();

describe('hostile host forms all reach the same decision (§6 A)', () => {
  it.each([
    ['A01', 'http://blocked.example/'],
    ['A02', 'http://BLOCKED.Example/'],
    ['A03', 'http://blocked.example./'],
    ['A05 subdomain', 'http://a.b.blocked.example/'],
    ['A06 fullwidth', 'http://ｂｌｏｃｋｅｄ.example/'],
    ['A06 ideographic dot', 'http://blocked。example/'],
    ['A06 encoded zero-width', 'http://blo%E2%80%8Bcked.example/'],
    ['A07 IDN list entry, punycode request', 'http://xn--bcher-kva.example/'],
    ['A07 IDN list entry, IDN request', 'http://bücher.example/'],
    ['A08 Cyrillic look-alike, on its Latin reading', 'http://blоcked.example/'],
    ['A12 encoded dot', 'http://blocked%2Eexample/'],
    ['A13 translator query', 'http://translate.google.com/translate?u=http://blocked.example/'],
    [
      'A13 translator query, encoded',
      'https://translate.google.com/translate?sl=auto&u=http%3A%2F%2Fblocked.example%2F',
    ],
    ['A13 translate.goog', 'https://blocked-example.translate.goog/'],
    ['A13 translate.goog with www', 'https://www-blocked-example.translate.goog/x?_x_tr_sl=auto'],
    ['A14 archive', 'http://web.archive.org/web/2020/http://blocked.example/'],
    ['A14 archive, https and no scheme', 'https://web.archive.org/web/20200101000000*/blocked.example/page'],
    ['B13 fragment', 'http://blocked.example/#frag'],
  ])('%s: %s is blocked as social', (_id, url) => {
    const d = decide(request(url), profile(), l, NOW);
    expect(d).toMatchObject({ action: 'block', rule: { kind: 'category', category: 'social' } });
    expect(d.categories).toContain('social');
  });

  it.each([
    ['A05 look-alike suffix', 'http://notblocked.example/'],
    ['translator for an allowed page', 'http://translate.google.com/translate?u=http://fine.example/'],
    ['archive of an allowed page', 'http://web.archive.org/web/2020/http://fine.example/'],
  ])('%s: %s is allowed by default', (_id, url) => {
    expect(decide(request(url), profile(), l, NOW)).toMatchObject({
      action: 'allow',
      rule: { kind: 'default' },
    });
  });

  it.each([
    ['A09 decimal', 'http://2130706433/'],
    ['A09 hex', 'http://0x7f.1/'],
    ['A09 octal', 'http://0177.0.0.1/'],
    ['A09 short', 'http://127.1/'],
    ['A10 mapped IPv6', 'http://[::ffff:7f00:1]/'],
    ['A10 IPv6 loopback', 'http://[::1]/'],
  ])('%s: %s falls to the IP-literal policy', (_id, url) => {
    const d = decide(request(url), profile(), l, NOW);
    expect(d).toMatchObject({ action: 'block', rule: { kind: 'ip-literal' } });
  });

  it('A10 CONNECT to a mapped IPv6 loopback is decided as 127.0.0.1', () => {
    const d = decide(
      { target: parseConnectTarget('[::ffff:7f00:1]:443'), method: 'CONNECT' },
      profile(),
      l,
      NOW,
    );
    expect(d.explanation).toContain('127.0.0.1');
    expect(d.action).toBe('block');
  });
});

const lunch: TimeWindow = {
  name: 'lunchtime',
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  from: '12:00',
  to: '13:00',
  categories: { games: 'allow', social: 'warn' },
};
const strictLunch: TimeWindow = { ...lunch, name: 'strict lunch', categories: { games: 'block' } };
const LUNCH = new Date('2025-01-06T12:30:00Z');

describe('precedence: deny > allow > categories (time windows) > IP literal > default', () => {
  const multi = standardLists();
  it.each<
    [string, string, Partial<Profile>, Date, { action: string; kind: string; list?: string; entry?: string }]
  >([
    [
      'deny entry beats everything',
      'http://www.fine.example/',
      { deny: ['fine.example'] },
      NOW,
      { action: 'block', kind: 'profile-deny', list: 'profile:pupil:deny', entry: 'fine.example' },
    ],
    [
      'deny beats allow for the same host',
      'http://fine.example/',
      { deny: ['fine.example'], allow: ['fine.example'] },
      NOW,
      { action: 'block', kind: 'profile-deny' },
    ],
    [
      'allow entry beats a blocked category',
      'http://www.facebook.com/',
      { allow: ['facebook.com'] },
      NOW,
      { action: 'allow', kind: 'profile-allow', entry: 'facebook.com' },
    ],
    [
      'deny URL prefix',
      'http://video.example/watch?v=1',
      { deny: ['video.example/watch'] },
      NOW,
      { action: 'block', kind: 'profile-deny', entry: 'video.example/watch' },
    ],
    [
      'allow entry beats the IP-literal policy',
      'http://10.0.0.5/',
      { allow: ['10.0.0.5'] },
      NOW,
      { action: 'allow', kind: 'profile-allow' },
    ],
    [
      'category block',
      'http://www.facebook.com/',
      {},
      NOW,
      { action: 'block', kind: 'category', list: 'social', entry: 'facebook.com' },
    ],
    ['category warn', 'http://games.example/', {}, NOW, { action: 'warn', kind: 'category', list: 'games' }],
    [
      'category the profile does not name is allowed',
      'http://hate.example/',
      {},
      NOW,
      { action: 'allow', kind: 'category', list: 'extremism' },
    ],
    [
      'URL-prefix category rule',
      'http://www.youtube.com/watch?v=abc',
      {},
      NOW,
      { action: 'block', kind: 'category', entry: 'youtube.com/watch?v=abc' },
    ],
    [
      'open window replaces the category action',
      'http://games.example/',
      { timeWindows: [lunch] },
      LUNCH,
      { action: 'allow', kind: 'time-window', list: 'lunchtime' },
    ],
    [
      'open window can loosen block to warn',
      'http://facebook.com/',
      { timeWindows: [lunch] },
      LUNCH,
      { action: 'warn', kind: 'time-window', list: 'lunchtime' },
    ],
    [
      'closed window changes nothing',
      'http://games.example/',
      { timeWindows: [lunch] },
      NOW,
      { action: 'warn', kind: 'category', list: 'games' },
    ],
    [
      'two open windows: the stricter wins',
      'http://games.example/',
      { timeWindows: [lunch, strictLunch] },
      LUNCH,
      { action: 'block', kind: 'time-window', list: 'strict lunch' },
    ],
    [
      'window does not touch categories it does not name',
      'http://bet.example/',
      { timeWindows: [lunch] },
      LUNCH,
      { action: 'block', kind: 'category', list: 'gambling' },
    ],
    [
      'IP in a category: the category decides',
      'http://198.51.100.7/',
      {},
      NOW,
      { action: 'block', kind: 'category', list: 'adult' },
    ],
    [
      'IP literal allowed when the profile allows them',
      'http://10.0.0.5/',
      { ipLiterals: 'allow' },
      NOW,
      { action: 'allow', kind: 'ip-literal' },
    ],
    [
      'IP literal warned',
      'http://10.0.0.5/',
      { ipLiterals: 'warn' },
      NOW,
      { action: 'warn', kind: 'ip-literal' },
    ],
    ['default allow', 'http://fine.example/', {}, NOW, { action: 'allow', kind: 'default' }],
    [
      'default block (allow-list-only profile)',
      'http://fine.example/',
      { defaultAction: 'block' },
      NOW,
      { action: 'block', kind: 'default' },
    ],
  ])('%s', (_name, url, overrides, now, expected) => {
    const d = decide(request(url), profile(overrides), multi, now);
    expect({ action: d.action, kind: d.rule.kind, list: d.rule.list, entry: d.rule.entry }).toMatchObject(
      expected,
    );
  });
});

describe('category names are data, not object keys', () => {
  it('a category called "constructor" the profile does not name is allowed', () => {
    const d = decide(request('http://odd.example/'), profile(), lists({ constructor: ['odd.example'] }), NOW);
    expect(d).toMatchObject({ action: 'allow', rule: { kind: 'category', category: 'constructor' } });
  });
});

describe('the most restrictive matched category wins, and every match is reported', () => {
  const overlap: CategoryLists = standardLists();
  it('block beats warn beats allow across categories', () => {
    const both = lists({ games: ['x.example'], social: ['x.example'], extremism: ['x.example'] });
    const d = decide(request('http://x.example/'), profile(), both, NOW);
    expect(d.action).toBe('block');
    expect(d.rule).toMatchObject({ kind: 'category', category: 'social' });
    expect(d.categories).toEqual(['extremism', 'games', 'social']);
    expect(d.matches).toHaveLength(3);
  });

  it('flagged and alert come from every matched category, even when an allow entry decides', () => {
    const d = decide(request('http://hate.example/'), profile({ allow: ['hate.example'] }), overlap, NOW);
    expect(d).toMatchObject({ action: 'allow', flagged: true, alert: true, categories: ['extremism'] });
  });

  it('an unflagged match is not flagged', () => {
    expect(decide(request('http://games.example/'), profile(), overlap, NOW)).toMatchObject({
      flagged: false,
      alert: false,
    });
  });
});

describe('explanations are one readable sentence', () => {
  it.each<[string, Partial<Profile>, Date, string]>([
    [
      'http://www.facebook.com/',
      {},
      NOW,
      'Blocked for profile pupil: www.facebook.com is in category Social networking (entry facebook.com).',
    ],
    [
      'http://games.example/',
      {},
      NOW,
      'Warning for profile pupil: games.example is in category Games (entry games.example).',
    ],
    [
      'http://games.example/',
      { timeWindows: [lunch] },
      LUNCH,
      'Allowed for profile pupil during lunchtime: games.example is in category Games (entry games.example).',
    ],
    [
      'http://a.fine.example/',
      { deny: ['fine.example'] },
      NOW,
      "Blocked for profile pupil: a.fine.example is on the profile's deny list (entry fine.example).",
    ],
    [
      'http://facebook.com/',
      { allow: ['facebook.com'] },
      NOW,
      "Allowed for profile pupil: facebook.com is on the profile's allow list (entry facebook.com).",
    ],
    [
      'http://2130706433/',
      {},
      NOW,
      'Blocked for profile pupil: 127.0.0.1 is a bare IP address that is in no list.',
    ],
    ['http://[::1]/', {}, NOW, 'Blocked for profile pupil: [::1] is a bare IP address that is in no list.'],
    [
      'http://fine.example/',
      {},
      NOW,
      "Allowed for profile pupil: fine.example is in no list, so the profile's default applies.",
    ],
    [
      'http://translate.google.com/translate?u=http://blocked.example/',
      {},
      NOW,
      'Blocked for profile pupil: blocked.example (reached via a translator, translate.google.com) is in category Social networking (entry blocked.example).',
    ],
    [
      'http://web.archive.org/web/2020/http://blocked.example/',
      {},
      NOW,
      'Blocked for profile pupil: blocked.example (reached via an archive, web.archive.org) is in category Social networking (entry blocked.example).',
    ],
  ])('%s', (url, overrides, now, sentence) => {
    expect(decide(request(url), profile(overrides), l, now).explanation).toBe(sentence);
  });
});

describe('loophole sites', () => {
  it('A13 a translated blocked page carries via and the embedded target', () => {
    const d = decide(request('https://blocked-example.translate.goog/page'), profile(), l, NOW);
    expect(d.via).toMatchObject({
      kind: 'translator',
      service: 'blocked-example.translate.goog',
      target: { host: 'blocked.example', path: '/page' },
    });
  });

  it('the embedded default never overrides the service decision', () => {
    const d = decide(
      request('http://translate.google.com/translate?u=http://fine.example/'),
      profile({ defaultAction: 'block', allow: ['translate.google.com'] }),
      l,
      NOW,
    );
    expect(d).toMatchObject({ action: 'allow', rule: { kind: 'profile-allow' } });
    expect(d.via).toBeUndefined();
  });

  it('a profile deny entry applies to the embedded target', () => {
    const d = decide(
      request('http://web.archive.org/web/2020/http://fine.example/'),
      profile({ deny: ['fine.example'] }),
      l,
      NOW,
    );
    expect(d).toMatchObject({ action: 'block', rule: { kind: 'profile-deny' }, via: { kind: 'archive' } });
  });
});

describe('decideSafely fails closed', () => {
  it('an exception inside decide becomes a block with rule policy-error', () => {
    const broken: CategoryLists = {
      categories: new Map(),
      endpoints: ENDPOINTS,
      match: () => {
        throw new Error('index corrupted');
      },
    };
    const d = decideSafely(request('http://fine.example/'), profile(), broken, NOW);
    expect(d).toMatchObject({ action: 'block', rule: { kind: 'policy-error' }, error: 'index corrupted' });
    expect(d.explanation).toMatch(/^Blocked for profile pupil: /);
  });

  it('a malformed time window becomes a block, not an allow', () => {
    const p = profile({ timeWindows: [{ ...lunch, to: '25:00' }] });
    expect(decideSafely(request('http://games.example/'), p, l, NOW)).toMatchObject({
      action: 'block',
      rule: { kind: 'policy-error' },
    });
  });

  it('an invalid profile entry becomes a block', () => {
    expect(
      decideSafely(request('http://fine.example/'), profile({ deny: ['bad entry'] }), l, NOW).rule.kind,
    ).toBe('policy-error');
  });

  it('passes normal decisions through unchanged', () => {
    const r = request('http://facebook.com/');
    expect(decideSafely(r, profile(), l, NOW)).toEqual(decide(r, profile(), l, NOW));
  });
});

describe('every spelling of a loophole URL is decided on its target (issue 11, item 3)', () => {
  it.each([
    ['Google Translate, extra slash', 'https://translate.google.com//translate?u=http://blocked.example/'],
    ['Google Translate, encoded path', 'https://translate.google.com/%74ranslate?u=blocked.example'],
    ['Google Translate, country host', 'https://translate.google.co.uk/translate?u=blocked.example'],
    ['u= with userinfo', 'https://translate.google.com/translate?u=http://fine.example@blocked.example/'],
    ['u= with backslashes', 'https://translate.google.com/translate?u=http:%5C%5Cblocked.example%5C'],
    ['u= with one slash', 'https://translate.google.com/translate?u=http:/blocked.example/'],
    ['u= scheme-relative', 'https://translate.google.com/translate?u=//blocked.example/'],
    ['u= with a tab', 'https://translate.google.com/translate?u=http://blo%09cked.example/'],
    ['second u=', 'https://translate.google.com/translate?u=http://fine.example/&u=http://blocked.example/'],
    ['Yandex Translate', 'https://translate.yandex.com/translate?url=https://blocked.example/&lang=en-ru'],
    ['translate.goog, path case', 'https://www-blocked-example.translate.goog/PAGE'],
    ['Wayback, modifier', 'https://web.archive.org/web/2020id_/https://blocked.example/'],
    ['Wayback, no timestamp', 'https://web.archive.org/web/http://blocked.example/'],
    ['Wayback, encoded target', 'https://web.archive.org/web/2020/http%3A%2F%2Fblocked.example%2F'],
    ['Wayback, extra slashes', 'https://web.archive.org//web//2020//http://blocked.example/'],
    ['archive.today newest', 'https://archive.ph/newest/https://blocked.example/'],
    ['archive.today timestamp', 'https://archive.is/20240101000000/blocked.example/page'],
    ['archive.today bare', 'https://archive.today/https://blocked.example/'],
    ['archive.today submit', 'https://archive.ph/submit/?url=https://blocked.example/'],
  ])('%s: %s is blocked via the service', (_why, url) => {
    const d = decide(request(url), profile(), l, NOW);
    expect(d).toMatchObject({ action: 'block', rule: { kind: 'category', category: 'social' } });
    expect(d.via?.target.host).toMatch(/(^|\.)blocked\.example$/);
  });

  it('a translator form body names the target too', () => {
    const req = {
      ...request('https://translate.google.com/translate', 'POST'),
      form: new URLSearchParams('u=blocked.example'),
    };
    expect(decide(req, profile(), l, NOW)).toMatchObject({ action: 'block', via: { kind: 'translator' } });
  });

  it('a translator target no parser reads is blocked (fail closed)', () => {
    const d = decide(
      request('https://translate.google.com/translate?u=http://exa%20mple/'),
      profile(),
      l,
      NOW,
    );
    expect(d).toMatchObject({ action: 'block', rule: { kind: 'ambiguous-url', list: 'embedded-target' } });
  });
});

describe('paths an upstream may read in two ways (issue 11, item 3)', () => {
  const withRule = profile({ allow: ['example.com/public'], defaultAction: 'allow' });

  it.each([
    ['path parameter on the rule', 'http://example.com/some/dir;x'],
    ['Tomcat path parameter', 'http://example.com/some;x=1/dir/page'],
    ['Tomcat ..; segment', 'http://example.com/ok/..;/some/dir'],
    ['encoded slash', 'http://example.com/some%2Fdir'],
    ['double-encoded slash', 'http://example.com/some%252Fdir'],
  ])('%s: %s is blocked as ambiguous when one reading hits a rule', (_why, url) => {
    const d = decide(request(url), profile(), l, NOW);
    expect(d).toMatchObject({ action: 'block', rule: { kind: 'ambiguous-url', list: 'path-readings' } });
    expect(d.categories).toContain('social');
  });

  it.each([
    ['no rule near it', 'http://fine.example/a;b/c%2Fd'],
    ['both readings hit the same allow rule', 'http://example.com/public/a;b%2Fc'],
  ])('%s: %s keeps the canonical decision', (_why, url) => {
    expect(decide(request(url), withRule, l, NOW).rule.kind).not.toBe('ambiguous-url');
  });

  it('a path that already blocks stays a plain category block', () => {
    expect(decide(request('http://example.com/some/dir/x;y'), profile(), l, NOW)).toMatchObject({
      action: 'block',
      rule: { kind: 'category' },
    });
  });
});
