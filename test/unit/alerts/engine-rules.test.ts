/** The alert rules and windows as tables: rows in, candidates and counted alerts out (no I/O, no clock). */
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/audit/types.js';
import { compileKeywords } from '../../../src/alerts/keywords/index.js';
import {
  candidatesFor,
  DEFAULT_KEYWORD_HOSTS,
  isAutocomplete,
  keywordHostMatcher,
  type RuleContext,
} from '../../../src/alerts/rules.js';
import { AlertWindows, RepeatedAttempts } from '../../../src/alerts/windows.js';

const keywords = compileKeywords([
  {
    name: 'selfharm',
    entries: [
      { phrase: 'kill myself', severity: 'danger' },
      { phrase: 'self harm', severity: 'warning' },
    ],
  },
  { name: 'weapons', entries: [{ phrase: 'knife for sale', severity: 'warning' }] },
]);

const ctx: RuleContext = {
  alertCategories: new Map([
    ['extremism', 'danger'],
    ['selfharm', 'danger'],
  ]),
  keywords,
  isKeywordHost: keywordHostMatcher(DEFAULT_KEYWORD_HOSTS),
};

let n = 0;
function row(over: Partial<AuditEvent> = {}): AuditEvent {
  n += 1;
  return {
    id: `row-${n}`,
    time: 1_000_000,
    user: 'pupil1',
    profile: 'pupil',
    clientIp: '10.0.0.5',
    device: null,
    method: 'GET',
    scheme: 'https',
    host: 'example.org',
    port: 443,
    path: '/',
    categories: [],
    action: 'allow',
    rule: 'default',
    reason: 'default',
    flagged: false,
    status: 200,
    kind: 'inspected',
    ...over,
  };
}

const rules = (r: AuditEvent) => candidatesFor(r, ctx).map((c) => `${c.rule}/${c.severity}`);

describe('candidatesFor', () => {
  it.each([
    [
      'a search term with a danger phrase',
      row({ searchTerm: 'how to k1ll myself' }),
      ['keyword:selfharm/danger'],
    ],
    [
      'evasion with separators and repeats',
      row({ searchTerm: 'k.i.l.l mysellllf' }),
      ['keyword:selfharm/danger'],
    ],
    ['an innocent word containing the phrase', row({ searchTerm: 'killer whale facts' }), []],
    ['skill', row({ searchTerm: 'skill myself up' }), []],
    [
      'a YouTube path on a keyword host',
      row({ host: 'www.youtube.com', path: '/results?search_query=self+harm+tutorial' }),
      ['keyword:selfharm/warning'],
    ],
    ['the same path on an ordinary host', row({ host: 'example.org', path: '/self-harm/help' }), []],
    [
      'the most severe phrase of a list names it',
      row({ searchTerm: 'self harm and kill myself' }),
      ['keyword:selfharm/danger'],
    ],
    [
      'two lists: two candidates',
      row({ searchTerm: 'knife for sale to kill myself' }),
      ['keyword:selfharm/danger', 'keyword:weapons/warning'],
    ],
    [
      'an autocomplete fetch',
      row({ host: 'www.google.com', path: '/complete/search?q=kill+myself', searchTerm: 'kill myself' }),
      [],
    ],
    ['a tunnel row has no path to read', row({ kind: 'tunnel', path: null, host: 'www.google.com' }), []],
    ['an allowed alert category (staff)', row({ categories: ['extremism'] }), ['category:extremism/danger']],
    [
      'a blocked alert category',
      row({ categories: ['selfharm'], action: 'block' }),
      ['category:selfharm/danger'],
    ],
    ['a category without alert', row({ categories: ['adult'], action: 'block', flagged: true }), []],
    ['a refused client is not an access', row({ categories: ['extremism'], action: 'refused' }), []],
    [
      'a throttled login',
      row({ action: 'auth-failed', reason: 'auth:throttled-user' }),
      ['auth:throttled/advisory'],
    ],
    ['a wrong password alone', row({ action: 'auth-failed', reason: 'auth:bad-password' }), []],
  ])('%s', (_name, r, expected) => {
    expect(rules(r)).toEqual(expected);
  });
});

describe('isAutocomplete and keyword hosts', () => {
  it.each([
    ['/complete/search?q=x', true],
    ['/AS/Suggestions?qry=x', true],
    ['/ac/?q=x', true],
    ['/sugrec?wd=x', true],
    ['/search?q=complete', false],
    ['/results?search_query=ac', false],
    ['/academy', false],
  ])('%s → %s', (path, expected) => expect(isAutocomplete(path)).toBe(expected));

  const isHost = keywordHostMatcher(['google.*', 'youtube.com']);
  it.each([
    ['www.google.co.uk', true],
    ['google.de', true],
    ['m.youtube.com', true],
    ['googleapis.com', false],
    ['google.evil.example.com', false],
    ['notyoutube.com', false],
  ])('%s → %s', (host, expected) => expect(isHost(host)).toBe(expected));
});

describe('AlertWindows', () => {
  const candidate = {
    rule: 'keyword:selfharm',
    list: 'selfharm',
    severity: 'warning' as const,
    phrase: 'self harm',
    searchTerm: 'self harm',
  };
  let ids = 0;
  const windows = () => new AlertWindows(15 * 60_000, () => `alert-${++ids}`);

  it('the same user and rule within the window count on one alert; a new window raises a fresh one', () => {
    const w = windows();
    const first = w.count(row({ time: 0 }), candidate);
    expect(first.isNew).toBe(true);
    for (let i = 1; i < 10; i++) expect(w.count(row({ time: i * 1000 }), candidate).isNew).toBe(false);
    const tenth = w.count(row({ time: 14 * 60_000 }), candidate);
    expect(tenth).toMatchObject({ isNew: false, alert: { id: first.alert.id, count: 11, firstTime: 0 } });
    const later = w.count(row({ time: 15 * 60_000 }), candidate);
    expect(later.isNew).toBe(true);
    expect(later.alert.id).not.toBe(first.alert.id);
  });

  it('other people, guests by address, and other rules are separate alerts', () => {
    const w = windows();
    expect(w.count(row({ user: 'a' }), candidate).isNew).toBe(true);
    expect(w.count(row({ user: 'b' }), candidate).isNew).toBe(true);
    expect(w.count(row({ user: null, clientIp: '10.0.0.9' }), candidate).isNew).toBe(true);
    expect(w.count(row({ user: null, clientIp: '10.0.0.9' }), candidate).isNew).toBe(false);
    expect(w.count(row({ user: 'a' }), { ...candidate, rule: 'keyword:weapons' }).isNew).toBe(true);
  });

  it('a worse match in the window raises the grade', () => {
    const w = windows();
    w.count(row({ time: 0 }), candidate);
    const worse = w.count(row({ time: 1 }), { ...candidate, severity: 'danger' });
    expect(worse.alert.severity).toBe('danger');
  });
});

describe('RepeatedAttempts', () => {
  const settings = { attempts: 3, withinMs: 10 * 60_000, severity: 'warning' as const };
  const blocked = (host: string, time: number, over: Partial<AuditEvent> = {}) =>
    row({ host, time, action: 'block', flagged: true, categories: ['adult'], ...over });

  it('the third distinct blocked attempt within the window raises it', () => {
    const r = new RepeatedAttempts(settings);
    expect(r.observe(blocked('a.test', 0))).toBeNull();
    expect(r.observe(blocked('a.test', 1_000))).toBeNull(); // same host within a minute: the same attempt
    expect(r.observe(blocked('b.test', 2_000))).toBeNull();
    expect(r.observe(blocked('c.test', 3_000))).toMatchObject({ rule: 'repeated:blocked-flagged' });
  });

  it('attempts spread over more than the window, unflagged or allowed rows, do not count', () => {
    const r = new RepeatedAttempts(settings);
    expect(r.observe(blocked('a.test', 0))).toBeNull();
    expect(r.observe(blocked('b.test', 5 * 60_000))).toBeNull();
    expect(r.observe(blocked('c.test', 11 * 60_000))).toBeNull(); // a.test has left the window
    expect(r.observe(blocked('d.test', 11 * 60_000 + 1, { flagged: false }))).toBeNull();
    expect(r.observe(blocked('e.test', 11 * 60_000 + 2, { action: 'allow' }))).toBeNull();
    expect(r.observe(blocked('f.test', 12 * 60_000))).not.toBeNull();
  });
});

describe('the illegal-content tier', () => {
  const hit = (over: Partial<AuditEvent> = {}) =>
    row({
      host: 'abuse.test',
      path: '/pics/1.jpg?x=1',
      action: 'block',
      reason: 'illegal-tier',
      rule: 'illegal-tier:illegal:iwf.txt:abuse.test',
      flagged: true,
      ...over,
    });

  it('every hit is a danger candidate naming its list file, blocked or in pilot mode alike', () => {
    expect(rules(hit())).toEqual(['illegal-tier:illegal:iwf.txt/danger']);
    expect(rules(hit({ action: 'would-block' }))).toEqual(['illegal-tier:illegal:iwf.txt/danger']);
    expect(rules(row({ rule: 'category:adult:x.test', reason: 'category', action: 'block' }))).toEqual([]);
  });

  it('the alert names the site, never the page (no abuse address in an e-mail); later hits count on it', () => {
    const windows = new AlertWindows(60_000, (t) => `alert-${t}`);
    const [candidate] = candidatesFor(hit(), ctx);
    const first = windows.count(hit(), candidate!);
    expect(first.isNew).toBe(true);
    expect(first.alert.url).toBe('https://abuse.test/');
    const second = windows.count(hit({ time: 1_000_500 }), candidate!);
    expect(second).toMatchObject({ isNew: false, alert: { count: 2 } });
  });
});
