/**
 * URL regex rules (expressions files): compiled by re2js, matched on the canonical host+path, bounded.
 */
import { describe, expect, it } from 'vitest';
import { CategoryListsBuilder } from '../../../src/policy/lists.js';
import { parseAbsoluteTarget } from '../../../src/policy/target.js';
import {
  ExpressionRules,
  MAX_EXPRESSION_LENGTH,
  MAX_EXPRESSIONS,
  parseExpressionLine,
  regexSubject,
} from '../../../src/policy/url-regex.js';
import { ENDPOINTS, meta } from './factories.js';

function rules(...sources: string[]) {
  const b = new CategoryListsBuilder();
  b.addCategory(meta('ads'));
  const outcomes = sources.map((s) => b.addExpressionLine('ads', s));
  return { lists: b.build(ENDPOINTS), outcomes };
}

const hits = (sources: string[], url: string) =>
  rules(...sources)
    .lists.match(parseAbsoluteTarget(url))
    .map((m) => `${m.kind}:${m.entry}`);

describe('URL regex rules match the canonical URL', () => {
  const ads = '(/banner/|/sponsor/|adverts/)';
  const ip = '^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+/search\\?q=[0-9]+$';
  it.each([
    [ads, 'http://news.example/img/banner/1.png', true],
    [ads, 'http://news.example/IMG/BANNER/1.png', true], // case-insensitive, as squidGuard
    [ads, 'http://news.example/img/%62anner/1.png', true], // decoded like every path (%62 = b)
    [ads, 'http://news.example/img/x/../banner/1.png', true], // dot segments resolved first
    [ads, 'http://news.example//banner//1.png', true], // duplicate slashes collapsed
    [ads, 'http://news.example/bannerx/1.png', false],
    [ip, 'http://198.51.100.7/search?q=12', true],
    [ip, 'http://3325256711/search?q=12', true], // the decimal IP is the dotted quad first
    [ip, 'http://198.51.100.7/search?q=12#frag', true], // the fragment never reaches the rule
    [ip, 'http://198.51.100.7:8080/search?q=12', true], // no port in the subject
    [ip, 'http://x198.51.100.7.example/search?q=12', false],
  ])('%s on %s → %s', (source, url, matched) => {
    expect(hits([source], url)).toEqual(matched ? [`regex:${source}`] : []);
  });

  it('the subject is host and normalised path, IPv6 in brackets', () => {
    expect(regexSubject(parseAbsoluteTarget('http://[2001:db8::1]/a/./b'))).toBe('[2001:db8::1]/a/b');
    expect(regexSubject(parseAbsoluteTarget('https://WWW.Example.com/A?b=1'))).toBe('www.example.com/A?b=1');
  });
});

describe('a bad or oversized pattern is an invalid line, never a crash', () => {
  it.each([
    ['(a)\\1', 'bad-regex'], // backreference: RE2 refuses
    ['(?<=a)b', 'bad-regex'], // look-behind
    ['(unclosed', 'bad-regex'],
    ['x'.repeat(MAX_EXPRESSION_LENGTH + 1), 'regex-too-long'],
  ])('%j → %s', (line, reason) => {
    expect(parseExpressionLine(line)).toEqual({ kind: 'invalid', reason });
    expect(rules(line).outcomes).toEqual([{ invalid: reason }]);
  });

  it('blank lines and comments are skipped', () => {
    expect(rules('', '# c').outcomes).toEqual(['skipped', 'skipped']);
  });

  it('catastrophic backtracking patterns run in linear time (RE2), so a long URL is answered', () => {
    const evil = '(a+)+$';
    expect(hits([evil], `http://x.example/${'a'.repeat(20_000)}!`)).toEqual([]);
  });

  it(`holds at most ${MAX_EXPRESSIONS} rules; past that a line is invalid`, () => {
    const r = new ExpressionRules();
    for (let i = 0; i < MAX_EXPRESSIONS; i++) {
      const p = parseExpressionLine(`/path${i}/`);
      if (p.kind !== 'regex') throw new Error('expected a rule');
      expect(r.add('ads', p)).toBe('added');
    }
    const one = parseExpressionLine('/one-more/');
    if (one.kind !== 'regex') throw new Error('expected a rule');
    expect(r.add('ads', one)).toBe('full');
    expect(r.size).toBe(MAX_EXPRESSIONS);
  });
});
