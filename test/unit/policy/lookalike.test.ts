/**
 * Look-alike names (hostile-inputs A08, issue 11 item 6): a name that reads as a listed one is decided on
 * its Latin reading too, and a label mixing scripts is blocked unless the school allowed that very name.
 */
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/policy/decide.js';
import { lookalikeOf, mixesScripts } from '../../../src/policy/lookalike.js';
import { lists, meta, profile, request } from './factories.js';

const NOW = new Date('2025-01-06T10:00:00Z');

const LISTS = lists(
  {
    adult: ['pornhub.com'],
    social: ['social.test', 'scope.test'],
    news: ['scope.com', 'google.com'],
  },
  {},
  [meta('adult', { title: 'Adult', flagged: true }), meta('social'), meta('news')],
);
const PUPIL = profile({ categories: { adult: 'block', social: 'block', news: 'allow' } });

describe('lookalikeOf: the Latin reading of a canonical host', () => {
  it.each([
    ['Cyrillic о in a Latin label', 'xn--prnhub-wqf.com', 'pornhub.com', true],
    ['Greek ο in a Latin label', 'xn--prnhub-i0e.com', 'pornhub.com', true],
    ['Greek ρ in a Latin label', 'xn--ornhub-v0e.com', 'pornhub.com', true],
    ['in a subdomain', 'www.xn--prnhub-wqf.com', 'www.pornhub.com', true],
    ['whole-script Cyrillic imitating scope', 'xn--e1argc3h.test', 'scope.test', false],
    // The Unicode table reads Cyrillic ӏ as i, not l: its reading, not ours.
    ['Cyrillic palochka', 'xn--80ak6aa92e.com', 'appie.com', false],
    ['whole-script Cyrillic imitating social', 'xn--l-7sb5bm2hi.test', 'social.test', true],
    // A Cyrillic letter that imitates nothing stays, so the reading is a name of its own (its punycode).
    ['Cyrillic б imitates no Latin letter', 'xn--pornhu-gof.com', 'xn--pornhu-gof.com', true],
    // Letters that imitate Latin ones are read as them; и imitates nothing and stays.
    ['Russian name', 'xn--e1afmkfd.xn--p1ai', 'xn--npmep-jxe.xn--p-eub', false],
    ['German umlaut is a letter, not a look-alike', 'xn--bcher-kva.example', 'xn--bcher-kva.example', false],
    ['Japanese with Latin', 'xn--abc-rj4b9bzdq6889hdocu19k.jp', 'xn--abc-rj4b9bzdq6889hdocu19k.jp', false],
  ])('%s: %s reads %s (mixed script: %s)', (_what, host, reading, mixedScript) => {
    expect(lookalikeOf(host)).toEqual({ reading, mixedScript });
  });

  it('costs nothing for plain ASCII names', () => {
    expect(lookalikeOf('pornhub.com')).toBeUndefined();
  });

  it.each([
    ['pоrnhub', true],
    ['ρornhub', true],
    ['аррӏе', false],
    ['пример', false],
    ['bücher', false],
    ['日本語テキストabc', false],
    ['한국어abc', false],
    ['ελληνικάпример', true],
    ['abcعربي', true],
    ['abc-123', false],
  ])('mixesScripts(%s) is %s', (label, mixed) => {
    expect(mixesScripts(label)).toBe(mixed);
  });
});

describe('decide: look-alikes of listed names', () => {
  it.each([
    ['punycode, Cyrillic о', 'http://xn--prnhub-wqf.com/'],
    ['raw UTF-8, Cyrillic о', 'http://pоrnhub.com/'],
    ['percent-encoded UTF-8, Cyrillic о', 'http://p%D0%BErnhub.com/'],
    ['Greek ο', 'http://pοrnhub.com/'],
    ['a subdomain of the look-alike', 'http://www.pоrnhub.com/'],
  ])('%s: %s is blocked as the name it imitates', (_what, url) => {
    const d = decide(request(url), PUPIL, LISTS, NOW);
    expect(d).toMatchObject({
      action: 'block',
      rule: { kind: 'category', category: 'adult', entry: 'pornhub.com' },
      categories: ['adult'],
      flagged: true,
      lookalike: expect.stringMatching(/pornhub\.com$/),
    });
    expect(d.explanation).toMatch(/looks like (www\.)?pornhub\.com/);
  });

  it.each([
    ['a whole-script look-alike (one script)', 'http://ѕсоре.test/'],
    ['a look-alike written mostly in Cyrillic', 'http://ѕосіаl.test/'],
  ])('%s of a listed name is decided as that name: %s', (_what, url) => {
    const d = decide(request(url), PUPIL, LISTS, NOW);
    expect(d).toMatchObject({ action: 'block', rule: { kind: 'category', category: 'social' } });
  });

  it('takes the warn of the imitated name for a profile that warns', () => {
    const staff = profile({ name: 'staff', categories: { adult: 'warn' } });
    const d = decide(request('http://pоrnhub.com/'), staff, LISTS, NOW);
    expect(d).toMatchObject({ action: 'warn', rule: { kind: 'category', category: 'adult' } });
  });

  it('a profile deny entry of the imitated name blocks the look-alike', () => {
    const denying = profile({ deny: ['example.org'] });
    const d = decide(request('http://ехаmple.org/'), denying, LISTS, NOW);
    expect(d).toMatchObject({ action: 'block', rule: { kind: 'profile-deny', entry: 'example.org' } });
  });

  it('an allow of the imitated name never allows the look-alike (a look-alike of an allowed site is phishing)', () => {
    const allowing = profile({ allow: ['google.com'] });
    const d = decide(request('http://gооgle.com/'), allowing, LISTS, NOW);
    expect(d).toMatchObject({ action: 'block', rule: { kind: 'mixed-script-host' } });
  });

  it('a mixed-script label on no list is blocked as mixed-script, whatever the default', () => {
    const d = decide(request('http://gооgle.com/'), PUPIL, LISTS, NOW);
    expect(d).toMatchObject({ action: 'block', rule: { kind: 'mixed-script-host' }, categories: [] });
    expect(d.explanation).toContain('mixes letters');
  });

  it.each([
    ['a Russian name', 'http://пример.рф/'],
    ['a German name', 'http://bücher.example/'],
    ['a Japanese name with Latin letters', 'http://日本語テキストabc.jp/'],
    ['a whole-script Cyrillic name reading as an allowed one', 'http://ѕсоре.com/'],
  ])('%s (%s) is decided by the profile like any other name', (_what, url) => {
    expect(decide(request(url), PUPIL, LISTS, NOW)).toMatchObject({
      action: 'allow',
      rule: { kind: 'default' },
    });
  });

  it('the school can allow one mixed-script name explicitly', () => {
    const allowing = profile({ allow: ['xn--ggle-55da.com'] });
    expect(decide(request('http://gооgle.com/'), allowing, LISTS, NOW)).toMatchObject({
      action: 'allow',
      rule: { kind: 'profile-allow' },
    });
  });

  it('a category that allows the real name does not stop its reading from tightening', () => {
    const own = lists({ adult: ['pornhub.com'], news: ['xn--prnhub-wqf.com'] });
    const staff = profile({ categories: { adult: 'block', news: 'allow' } });
    expect(decide(request('http://pоrnhub.com/'), staff, own, NOW)).toMatchObject({
      action: 'block',
      categories: ['adult', 'news'],
    });
  });

  it('a look-alike inside a translator URL is decided on its reading too', () => {
    const d = decide(
      request('http://translate.google.com/translate?u=http://pоrnhub.com/'),
      PUPIL,
      LISTS,
      NOW,
    );
    expect(d).toMatchObject({ action: 'block', rule: { category: 'adult' }, via: { kind: 'translator' } });
  });
});
