import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/policy/decide.js';
import { compileExceptions, type PolicyException } from '../../../src/policy/exceptions.js';
import type { CategoryLists, Profile, TimeWindow } from '../../../src/policy/types.js';
import { parseConnectTarget } from '../../../src/policy/target.js';
import { profile, request, standardLists } from './factories.js';

const NOW = new Date('2025-01-06T10:00:00Z'); // a Monday morning, Europe/London
const base = standardLists();

let nextId = 1;
function ex(
  site: string,
  action: 'allow' | 'block',
  scope: PolicyException['scope'],
  expiresAt: number | null = null,
) {
  return { id: nextId++, site, action, scope, expiresAt } satisfies PolicyException;
}
const everyone = { kind: 'everyone' } as const;
const pupils = { kind: 'profile', name: 'pupil' } as const;
const jo = { kind: 'user', name: 'jo' } as const;

function withExceptions(list: PolicyException[]): CategoryLists {
  return { ...base, exceptions: compileExceptions(list) };
}

function decideAs(
  url: string,
  list: PolicyException[],
  opts: { user?: string | null; profile?: Partial<Profile>; now?: Date } = {},
) {
  return decide(
    { ...request(url), user: opts.user ?? null },
    profile(opts.profile),
    withExceptions(list),
    opts.now ?? NOW,
  );
}

describe('exceptions come before profile entries, time windows and categories', () => {
  const lunch: TimeWindow = {
    name: 'lunch',
    days: ['mon'],
    from: '09:00',
    to: '11:00',
    categories: { games: 'block' },
  };
  it.each<[string, string, PolicyException[], { user?: string; profile?: Partial<Profile> }, string, string]>(
    [
      [
        'allow beats a blocked category',
        'http://facebook.com/',
        [ex('facebook.com', 'allow', everyone)],
        {},
        'allow',
        'exception-allow',
      ],
      [
        'block beats an uncategorised default allow',
        'http://fine.example/',
        [ex('fine.example', 'block', pupils)],
        {},
        'block',
        'exception-block',
      ],
      [
        'allow beats the profile deny entry',
        'http://fine.example/',
        [ex('fine.example', 'allow', pupils)],
        { profile: { deny: ['fine.example'] } },
        'allow',
        'exception-allow',
      ],
      [
        'block beats the profile allow entry',
        'http://fine.example/',
        [ex('fine.example', 'block', everyone)],
        { profile: { allow: ['fine.example'] } },
        'block',
        'exception-block',
      ],
      [
        'allow beats an open time window',
        'http://games.example/',
        [ex('games.example', 'allow', jo)],
        { user: 'jo', profile: { timeWindows: [lunch] } },
        'allow',
        'exception-allow',
      ],
      [
        'allow beats a warn category',
        'http://games.example/',
        [ex('games.example', 'allow', pupils)],
        {},
        'allow',
        'exception-allow',
      ],
      [
        'a URL-prefix exception covers only its prefix',
        'http://facebook.com/other',
        [ex('facebook.com/groups/school', 'allow', everyone)],
        {},
        'block',
        'category',
      ],
      [
        'a URL-prefix exception allows its prefix',
        'http://facebook.com/groups/school/x',
        [ex('facebook.com/groups/school', 'allow', everyone)],
        {},
        'allow',
        'exception-allow',
      ],
      [
        'a subdomain is covered by a domain exception',
        'http://m.facebook.com/',
        [ex('facebook.com', 'allow', pupils)],
        {},
        'allow',
        'exception-allow',
      ],
      [
        'another profile’s exception does not apply',
        'http://facebook.com/',
        [ex('facebook.com', 'allow', { kind: 'profile', name: 'staff' })],
        {},
        'block',
        'category',
      ],
      [
        'another user’s exception does not apply',
        'http://facebook.com/',
        [ex('facebook.com', 'allow', { kind: 'user', name: 'sam' })],
        { user: 'jo' },
        'block',
        'category',
      ],
      [
        'a user exception never applies to nobody',
        'http://facebook.com/',
        [ex('facebook.com', 'allow', jo)],
        {},
        'block',
        'category',
      ],
    ],
  )('%s', (_name, url, list, opts, action, kind) => {
    const d = decideAs(url, list, opts);
    expect(d).toMatchObject({ action, rule: { kind } });
  });
});

describe('which exception wins: user > profile > everyone, then block over allow', () => {
  it.each<[string, PolicyException[], 'allow' | 'block', string]>([
    [
      'user allow beats profile block',
      [ex('facebook.com', 'block', pupils), ex('facebook.com', 'allow', jo)],
      'allow',
      'user',
    ],
    [
      'user block beats everyone allow',
      [ex('facebook.com', 'allow', everyone), ex('facebook.com', 'block', jo)],
      'block',
      'user',
    ],
    [
      'profile allow beats everyone block',
      [ex('facebook.com', 'block', everyone), ex('facebook.com', 'allow', pupils)],
      'allow',
      'profile',
    ],
    [
      'profile block beats everyone allow',
      [ex('facebook.com', 'allow', everyone), ex('facebook.com', 'block', pupils)],
      'block',
      'profile',
    ],
    [
      'equal scope: block beats allow (either order)',
      [ex('facebook.com', 'allow', pupils), ex('facebook.com', 'block', pupils)],
      'block',
      'profile',
    ],
    [
      'equal scope: block beats allow (other order)',
      [ex('facebook.com', 'block', pupils), ex('facebook.com', 'allow', pupils)],
      'block',
      'profile',
    ],
    [
      'a user’s URL exception beats a profile’s domain one',
      [ex('facebook.com', 'block', pupils), ex('facebook.com/groups', 'allow', jo)],
      'allow',
      'user',
    ],
  ])('%s', (_name, list, action, scope) => {
    const d = decideAs('http://facebook.com/groups/x', list, { user: 'jo' });
    expect(d.action).toBe(action);
    expect(d.exception?.scope.kind).toBe(scope);
  });
});

describe('expiry at the boundary (test clock)', () => {
  const END = Date.parse('2025-01-20T15:30:00Z');
  const list = [ex('facebook.com', 'allow', jo, END)];
  it.each<[string, number, string]>([
    ['a millisecond before it ends', END - 1, 'allow'],
    ['at the instant it ends', END, 'block'],
    ['after it ended', END + 86_400_000, 'block'],
  ])('%s', (_name, at, action) => {
    expect(decideAs('http://facebook.com/', list, { user: 'jo', now: new Date(at) }).action).toBe(action);
  });

  it('an expired user exception falls through to the live profile exception', () => {
    const two = [ex('facebook.com', 'allow', jo, END), ex('facebook.com', 'block', pupils)];
    expect(decideAs('http://facebook.com/', two, { user: 'jo', now: new Date(END) })).toMatchObject({
      action: 'block',
      rule: { kind: 'exception-block' },
      exception: { scope: pupils },
    });
  });
});

describe('the decision names the exception and when it ends', () => {
  it('for one with an end', () => {
    const e = ex('facebook.com', 'allow', jo, Date.parse('2025-01-20T15:30:00Z'));
    const d = decideAs('http://www.facebook.com/', [e], { user: 'jo' });
    expect(d.rule).toEqual({ kind: 'exception-allow', list: `exception:${e.id}`, entry: 'facebook.com' });
    expect(d.exception).toEqual({ id: e.id, scope: jo, expiresAt: '2025-01-20T15:30:00.000Z' });
    expect(d.explanation).toBe(
      `Allowed for profile pupil: www.facebook.com is allowed by exception ${e.id} for user jo, until 2025-01-20T15:30:00.000Z.`,
    );
    // The category still matched: an investigation sees a flagged site even when an exception allowed it.
    expect(d).toMatchObject({ categories: ['social'], flagged: true });
  });

  it('for one with no end', () => {
    const e = ex('fine.example', 'block', everyone);
    const d = decideAs('http://fine.example/', [e]);
    expect(d.exception?.expiresAt).toBeNull();
    expect(d.explanation).toContain(`blocked by exception ${e.id} for everyone, with no end date`);
  });
});

describe('exceptions and the loophole checks', () => {
  it('a block exception is enforced through a translator', () => {
    const d = decideAs('http://translate.google.com/translate?u=http://fine.example/', [
      ex('fine.example', 'block', pupils),
    ]);
    expect(d).toMatchObject({
      action: 'block',
      rule: { kind: 'exception-block' },
      via: { kind: 'translator' },
    });
  });

  it('an allow exception on a look-alike’s Latin reading does not open the look-alike', () => {
    // blоcked.example (Cyrillic о) reads as blocked.example; allowing the real name must not allow the fake.
    const d = decideAs('http://blоcked.example/', [ex('blocked.example', 'allow', everyone)]);
    expect(d.action).toBe('block');
  });

  it('a block exception on the Latin reading blocks the look-alike', () => {
    const d = decideAs('http://fіne.example/', [ex('fine.example', 'block', everyone)]);
    expect(d).toMatchObject({ action: 'block', rule: { kind: 'exception-block' } });
  });

  it('a tunnel (CONNECT) is decided on its host by a domain exception', () => {
    const d = decide(
      { target: parseConnectTarget('facebook.com:443'), method: 'CONNECT', user: 'jo' },
      profile(),
      withExceptions([ex('facebook.com', 'allow', jo)]),
      NOW,
    );
    expect(d.action).toBe('allow');
  });
});
