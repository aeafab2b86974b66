import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isSchoolgateError, type SchoolgateError } from '../../../src/errors.js';
import {
  compileKeywords,
  highestSeverity,
  type KeywordIndex,
  keywordsLocalDir,
  loadKeywordLists,
  matchKeywords,
  normaliseText,
  parseKeywordLine,
  searchTextOf,
} from '../../../src/alerts/keywords/index.js';

const SHIPPED = fileURLToPath(new URL('../../../categories/keywords', import.meta.url));
const LISTS = ['bullying', 'drugs', 'eating', 'extremism', 'grooming', 'selfharm', 'weapons'];

let shipped: KeywordIndex;
beforeAll(async () => {
  const loaded = await loadKeywordLists(SHIPPED);
  expect(loaded.warnings).toEqual([]);
  shipped = compileKeywords(loaded.lists);
});

/** The lists (sorted, unique) of the shipped index that match a text. */
function listsMatching(text: string): string[] {
  return [...new Set(matchKeywords(shipped, text).map((m) => m.list))].sort();
}

function index(...entries: [list: string, phrase: string][]): KeywordIndex {
  const byList = new Map<string, string[]>();
  for (const [list, phrase] of entries) byList.set(list, [...(byList.get(list) ?? []), phrase]);
  return compileKeywords(
    [...byList].map(([name, phrases]) => ({
      name,
      entries: phrases.map((phrase) => ({ phrase, severity: 'danger' as const })),
    })),
  );
}

describe('shipped keyword lists', () => {
  it('ship every list the alerts need, each with phrases of every kind of severity it uses', async () => {
    const loaded = await loadKeywordLists(SHIPPED);
    expect(loaded.lists.map((l) => l.name)).toEqual(LISTS);
    for (const list of loaded.lists) expect(list.entries.length).toBeGreaterThanOrEqual(20);
  });

  // For every list: at least 3 texts that must match it, and 3 innocent texts that must match nothing.
  const cases: Record<string, { positive: string[]; negative: string[] }> = {
    selfharm: {
      positive: [
        'how to kill myself',
        'i want to die',
        'self harm tutorial',
        'самоубийство',
        'jak się zabić',
      ],
      negative: [
        'killer whale facts',
        'skill builder maths',
        'how to kill a process in linux',
        'die hard film',
      ],
    },
    extremism: {
      positive: ['how to join isis', 'christchurch shooter manifesto', 'Heil Hitler', 'الانضمام الى داعش'],
      negative: ['isis the egyptian goddess', 'history of the second world war', 'national action plan'],
    },
    weapons: {
      positive: ['buy a knife online', 'zombie knife for sale uk', 'how to make a pipe bomb'],
      negative: [
        'shooting stars',
        'how to make a bath bomb',
        'knife skills cooking lesson',
        'gun metal grey',
      ],
    },
    bullying: {
      positive: ['go kill yourself', 'everyone hates you', 'kys neck yourself', 'убей себя'],
      negative: ['how to kill time', 'everyone likes pizza', 'you are welcome'],
    },
    grooming: {
      positive: ['send me nudes', "don't tell your parents ok", 'someone is blackmailing me with pictures'],
      negative: ['send me the homework', 'parents evening', 'our secret garden book'],
    },
    drugs: {
      positive: ['where to buy weed', 'how to make meth', 'mixing xanax and alcohol'],
      negative: [
        'drug trafficking history essay',
        'how to weed the garden',
        'buy coke zero',
        'meth lab breaking bad',
      ],
    },
    eating: {
      positive: ['pro-ana tips', 'thinspo', 'how to make myself throw up', 'jak przestać jeść'],
      negative: ['healthy eating plan', 'eating disorder awareness week', 'anna karenina', 'pro analysis'],
    },
  };

  describe.each(LISTS)('%s', (list) => {
    const { positive, negative } = cases[list]!;
    it.each(positive)('matches %j', (text) => {
      expect(listsMatching(text)).toContain(list);
    });
    it.each(negative)('does not match %j', (text) => {
      expect(listsMatching(text)).toEqual([]);
    });
  });

  it('grades a match with the severity written in the list', () => {
    expect(highestSeverity(matchKeywords(shipped, 'how to kill myself'))).toBe('danger');
    expect(highestSeverity(matchKeywords(shipped, 'i want to die'))).toBe('warning');
    expect(highestSeverity(matchKeywords(shipped, 'self harm awareness week'))).toBe('advisory');
    expect(highestSeverity(matchKeywords(shipped, 'maths homework'))).toBeUndefined();
  });
});

describe('matching survives evasion', () => {
  const evasions: [string, string][] = [
    ['plain', 'how to kill myself'],
    ['upper case', 'HOW TO KILL MYSELF'],
    ['l33t 1 for i', 'how to k1ll myself'],
    ['l33t 1 for l', 'how to ki1l myself'],
    ['l33t everywhere', 'h0w t0 k1ll mys3lf'],
    ['l33t symbols', 'how to kill my$elf'],
    ['repeated letters', 'killlll myself'],
    ['repeated letters everywhere', 'hoooow to kiiiilllll myyyyself'],
    ['dots between letters', 'k.i.l.l myself'],
    ['spaces between letters', 'k i l l m y s e l f'],
    ['hyphens between words', 'kill-my-self'],
    ['underscore', 'kill_myself'],
    ['no spaces', 'killmyself'],
    ['no spaces, whole phrase', 'howtokillmyself'],
    ['Cyrillic і and о inside Latin words', 'how tо kіll myself'],
    ['Greek ο and ι inside Latin words', 'how tο kιll myself'],
    ['Cyrillic к and м', 'how to кill мyself'],
    ['accents', 'hów tó kíll mýsélf'],
    ['fullwidth letters', 'ｋｉｌｌ ｍｙｓｅｌｆ'],
    ['zero-width space inside', 'ki\u200bll my\u200dself'],
    ['soft hyphen inside', 'kil\u00adl myself'],
    ['punctuation around', '"kill... myself!!!"'],
  ];
  it.each(evasions)('%s: %j', (_label, text) => {
    const phrases = matchKeywords(shipped, text)
      .filter((m) => m.list === 'selfharm' && m.severity === 'danger')
      .map((m) => m.phrase);
    expect(phrases.filter((p) => p === 'kill myself' || p === 'how to kill myself')).not.toEqual([]);
  });

  it.each([['su1c1de methods'], ['SUICIDE METH0DS'], ['s.u.i.c.i.d.e methods'], ['suïcide methods']])(
    '%j reads as "suicide methods"',
    (text) => {
      expect(matchKeywords(shipped, text).map((m) => m.phrase)).toContain('suicide methods');
    },
  );

  it('matches a phrase written in Cyrillic as written, in any case, and Polish with or without accents', () => {
    for (const text of ['самоубийство', 'САМОУБИЙСТВО', 'что такое самоубийство?'])
      expect(matchKeywords(shipped, text).map((m) => m.phrase)).toContain('самоубийство');
    for (const text of ['jak się zabić', 'jak sie zabic', 'JAK SIĘ ZABIĆ'])
      expect(matchKeywords(shipped, text).map((m) => m.phrase)).toContain('jak się zabić');
    expect(matchKeywords(shipped, 'как покончить с собой').map((m) => m.phrase)).toContain(
      'как покончить с собой',
    );
  });

  it('matches Arabic and Urdu as written, with or without harakat and alef forms', () => {
    expect(matchKeywords(shipped, 'خودکشی').map((m) => m.phrase)).toContain('خودکشی');
    expect(matchKeywords(shipped, 'اِنْتِحَار').map((m) => m.phrase)).toContain('انتحار');
    expect(matchKeywords(shipped, 'اريد ان اموت').map((m) => m.phrase)).toContain('أريد أن أموت');
  });

  it('does not fold a wholly Cyrillic word with no Latin phrase into a Latin match', () => {
    expect(matchKeywords(shipped, 'привет как дела')).toEqual([]);
  });
});

describe('word boundaries', () => {
  const words = index(['t', 'kill'], ['t', 'cunt'], ['t', 'rapist'], ['t', 'ass'], ['t', 'kill myself']);
  it.each([
    'skill',
    'skills for life',
    'Scunthorpe United',
    'therapist near me',
    'killer whale facts',
    'classic assessment',
    'killing floor',
    'overkill',
    'sk1ll',
    'S.cunthorpe',
    's\u200bkill',
  ])('%j matches no phrase', (text) => {
    expect(matchKeywords(words, text)).toEqual([]);
  });

  it.each([
    ['kill', 'kill'],
    ['how to kill', 'kill'],
    ['k-i-l-l', 'kill'],
    ['the rapist was caught', 'rapist'],
    ['kill myself', 'kill myself'],
  ])('%j matches %j', (text, phrase) => {
    expect(matchKeywords(words, text).map((m) => m.phrase)).toContain(phrase);
  });

  it('reports each (list, phrase) once however often it occurs, and a phrase in two lists twice', () => {
    const two = index(['a', 'kill myself'], ['b', 'kill myself']);
    expect(matchKeywords(two, 'kill myself, kill myself, KILL MYSELF')).toEqual([
      { list: 'a', phrase: 'kill myself', severity: 'danger' },
      { list: 'b', phrase: 'kill myself', severity: 'danger' },
    ]);
  });
});

describe('matching is linear', () => {
  it('does bounded work on each of 10,000 random strings', () => {
    const alphabet = 'kilmyself1!0 .-_@$3457аоіκ\u200bkkkllll   самоубийство';
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let i = 0; i < 10_000; i++) {
      let s = '';
      const length = Math.floor(random() * 200);
      for (let j = 0; j < length; j++) s += alphabet[Math.floor(random() * alphabet.length)];
      const stats = { steps: 0 };
      matchKeywords(shipped, s, stats);
      expect(stats.steps).toBeLessThanOrEqual(s.length * shipped.maxWalk * 4);
    }
  });

  it('does work proportional to the length of adversarial input', () => {
    const steps = (text: string): number => {
      const stats = { steps: 0 };
      matchKeywords(shipped, text, stats);
      return stats.steps;
    };
    for (const unit of ['l ', '1', 'k1', 'l1l1 ', 'kill my ', 'h o w t o ', 'с а м о ', 'k.', '$@$ ']) {
      const small = steps(unit.repeat(2_000));
      const large = steps(unit.repeat(20_000));
      expect(large, unit).toBeLessThanOrEqual(small * 11);
      expect(large / (unit.length * 20_000), unit).toBeLessThan(shipped.maxWalk * 4);
    }
  });
});

describe('searchTextOf', () => {
  it.each([
    ['/search?q=how+to+kill+myself&form=QBLH', 'search q how to kill myself form QBLH'],
    ['/results?search_query=self%20harm%20tutorial', 'results search_query self harm tutorial'],
    ['https://www.bing.com/search?q=knife+for+sale', 'search q knife for sale'],
    [
      '/search?q=%D1%81%D0%B0%D0%BC%D0%BE%D1%83%D0%B1%D0%B8%D0%B9%D1%81%D1%82%D0%B2%D0%BE',
      'search q самоубийство',
    ],
    ['/search?q=100%25+sure', 'search q 100% sure'],
    ['/search?q=a%2Bb', 'search q a+b'],
    ['/search?q=bad%E2%80escape', 'search q bad%E2%80escape'],
    ['/search?q=kill%2520myself', 'search q kill myself'],
    ['how to kill myself', 'how to kill myself'],
  ])('%j → %j', (input, text) => {
    expect(searchTextOf(input)).toBe(text);
  });

  it('feeds the matcher', () => {
    expect(matchKeywords(shipped, searchTextOf('/search?q=how+to+k1ll+myself')).map((m) => m.list)).toContain(
      'selfharm',
    );
  });
});

describe('normaliseText', () => {
  it('strips Latin diacritics only, keeping Cyrillic й', () => {
    expect(normaliseText('Zabić SIĘ Łódź café')).toBe('zabic sie lodz cafe');
    expect(normaliseText('Убийство ЙОД')).toBe('убийство йод');
  });
});

describe('keyword list lines', () => {
  it.each([
    ['danger  how to kill myself', { kind: 'entry', severity: 'danger', phrase: 'how to kill myself' }],
    ['WARNING\twant   to die', { kind: 'entry', severity: 'warning', phrase: 'want to die' }],
    ['# a comment', undefined],
    ['   ', undefined],
  ])('%j', (line, expected) => {
    const parsed = parseKeywordLine(line, 'shipped');
    if (expected === undefined) expect(parsed).toBeUndefined();
    else expect(parsed).toMatchObject(expected);
  });

  it.each([
    ['severe kill myself', /unknown severity "severe"/],
    ['kill myself', /unknown severity "kill"/],
    ['danger', /empty phrase/],
    ['danger   !!!', /no letters or digits/],
    ['danger kill myself # comment', /inline comments/],
    ['-kill myself', /local layer/],
    // Found by test/fuzz/keyword-line.test.ts: a line break inside a line threw a TypeError.
    ['danger kill\rmyself', /line break/],
    ['kill\rmyself', /line break/],
    ['danger kill\u2028myself', /line break/],
    ['danger kill\nmyself', /line break/],
  ])('%j is an error', (line, reason) => {
    const parsed = parseKeywordLine(line, 'shipped');
    expect(parsed?.kind).toBe('error');
    expect(parsed?.kind === 'error' ? parsed.reason : '').toMatch(reason);
  });

  it('a removal in the local layer may keep the severity it was copied with', () => {
    expect(parseKeywordLine('-danger kill myself', 'local')).toMatchObject({
      kind: 'remove',
      phrase: 'kill myself',
    });
    expect(parseKeywordLine('- want to die', 'local')).toMatchObject({
      kind: 'remove',
      phrase: 'want to die',
    });
  });
});

describe('loadKeywordLists layering', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function layout(files: Record<string, string>): { shippedDir: string; localDir: string } {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-keywords-'));
    const shippedDir = path.join(dir, 'keywords');
    const localDir = keywordsLocalDir(path.join(dir, 'data'));
    mkdirSync(shippedDir, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      const file = path.join(dir, name);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
    return { shippedDir, localDir };
  }

  it('adds local phrases, re-grades shipped ones, removes "-phrase" lines and adds new lists', async () => {
    const { shippedDir, localDir } = layout({
      'keywords/selfharm': '# shipped\ndanger kill myself\nwarning want to die\r\nadvisory self harm\n',
      'keywords/README.md': 'not a list\n',
      'data/keywords.local/selfharm':
        'danger end it tonight\nadvisory Kill   My-Self\n-WANT TO DIE\n-not shipped\n',
      'data/keywords.local/gangs': 'warning join the gang\n',
    });
    const loaded = await loadKeywordLists(shippedDir, localDir);
    expect(loaded.lists.map((l) => l.name)).toEqual(['gangs', 'selfharm']);
    const selfharm = loaded.lists.find((l) => l.name === 'selfharm')!;
    expect(selfharm.entries.map((e) => [e.severity, e.phrase, e.layer])).toEqual([
      ['advisory', 'Kill My-Self', 'local'],
      ['advisory', 'self harm', 'shipped'],
      ['danger', 'end it tonight', 'local'],
    ]);
    expect(loaded.counts.get('selfharm')).toEqual({ shipped: 3, local: 2, removed: 1 });
    expect(loaded.warnings).toEqual([expect.stringMatching(/selfharm:4: "-not shipped" removes nothing/)]);

    const compiled = compileKeywords(loaded.lists);
    expect(matchKeywords(compiled, 'i want to die')).toEqual([]);
    expect(matchKeywords(compiled, 'k1ll myself')).toEqual([
      { list: 'selfharm', phrase: 'Kill My-Self', severity: 'advisory' },
    ]);
    expect(matchKeywords(compiled, 'how to join the gang')).toEqual([
      { list: 'gangs', phrase: 'join the gang', severity: 'warning' },
    ]);
  });

  it('works without a local layer', async () => {
    const { shippedDir, localDir } = layout({ 'keywords/drugs': 'warning buy weed\n' });
    const loaded = await loadKeywordLists(shippedDir, localDir);
    expect(loaded.counts.get('drugs')).toEqual({ shipped: 1, local: 0, removed: 0 });
  });

  it('warns about a phrase repeated in one file', async () => {
    const { shippedDir } = layout({ 'keywords/drugs': 'warning buy weed\ndanger BUY WEEEED\n' });
    const loaded = await loadKeywordLists(shippedDir);
    expect(loaded.warnings).toEqual([expect.stringMatching(/drugs:2: "BUY WEEEED" repeats line 1/)]);
    expect(loaded.lists[0]!.entries).toHaveLength(1);
  });

  it('refuses invalid lines with one typed error naming every file and line', async () => {
    const { shippedDir, localDir } = layout({
      'keywords/selfharm': 'danger kill myself\n\nsevere want to die\n',
      'data/keywords.local/selfharm': '# ok\nwarning\n',
    });
    const err = (await loadKeywordLists(shippedDir, localDir).catch((e: unknown) => e)) as SchoolgateError;
    expect(isSchoolgateError(err)).toBe(true);
    expect(err.code).toBe('SG_CATEGORY_INVALID');
    expect(err.message).toContain(`${path.join(shippedDir, 'selfharm')}:3: unknown severity "severe"`);
    expect(err.message).toContain(`${path.join(localDir, 'selfharm')}:2: empty phrase`);
    expect(err.context).toMatchObject({ file: path.join(shippedDir, 'selfharm'), line: 3 });
    expect(err.suggestion).toMatch(/danger\|warning\|advisory/);
  });

  it('refuses a missing shipped directory with a typed error', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-keywords-'));
    await expect(loadKeywordLists(path.join(dir, 'nope'))).rejects.toMatchObject({
      code: 'SG_CATEGORY_INVALID',
    });
  });
});
