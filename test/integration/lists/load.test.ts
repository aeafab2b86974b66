import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCategories } from '../../../src/lists/load.js';
import { parseAbsoluteTarget } from '../../../src/policy/target.js';
import type { SchoolgateError } from '../../../src/errors.js';

const UT1 = path.resolve(import.meta.dirname, '../../../../shared/data/ut1');
/** The public UT1 lists live beside the repository (../shared/data/ut1); CI has them, a fresh clone may not. */
const HAVE_UT1 = existsSync(UT1);
if (!HAVE_UT1) console.warn(`UT1 tests skipped: ${UT1} not found (../shared/data/ut1 beside the repository)`);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sg-lists-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(rel: string, text: string): Promise<void> {
  await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
  await writeFile(path.join(dir, rel), text);
}

const SOCIAL_META =
  'social:\n  title: Social networking\n  description: Social networks.\n  flagged: true\n  alert: false\n';

async function loadError(opts = {}): Promise<SchoolgateError> {
  return loadCategories(dir, opts).then(
    () => {
      throw new Error('expected loadCategories to fail');
    },
    (err: SchoolgateError) => err,
  );
}

const hostsIn = (lists: Awaited<ReturnType<typeof loadCategories>>['lists'], url: string): string[] =>
  lists.match(parseAbsoluteTarget(url)).map((m) => `${m.list}:${m.entry}`);

describe('loading a categories directory', () => {
  it('counts valid domain and URL lines per category and matches them', async () => {
    await write('categories.yaml', `${SOCIAL_META}games:\n  title: Games\n`);
    await write('social/domains', '# comment\n\nfacebook.com\nbücher.example\n198.51.100.7\nfacebook.com\n');
    await write('social/urls', 'youtube.com/watch?v=abc\n');
    await write('games/domains', 'games.example\r\nplay.example\r\n');
    const loaded = await loadCategories(dir);
    expect(loaded.counts.get('social')).toEqual({ domains: 4, urls: 1, invalid: 0 });
    expect(loaded.counts.get('games')).toEqual({ domains: 2, urls: 0, invalid: 0 });
    expect(loaded.warnings).toEqual([]);
    expect(loaded.lists.categories.get('social')).toEqual({
      name: 'social',
      title: 'Social networking',
      description: 'Social networks.',
      flagged: true,
      alert: false,
    });
    expect(loaded.lists.categories.get('games')).toMatchObject({
      description: '',
      flagged: false,
      alert: false,
    });
    expect(hostsIn(loaded.lists, 'http://m.facebook.com/')).toEqual(['social:facebook.com']);
    expect(hostsIn(loaded.lists, 'http://xn--bcher-kva.example/')).toEqual(['social:xn--bcher-kva.example']);
    expect(hostsIn(loaded.lists, 'http://play.example/')).toEqual(['games:play.example']);
    expect(hostsIn(loaded.lists, 'http://youtube.com/watch?v=abc')).toEqual([
      'social:youtube.com/watch?v=abc',
    ]);
  });

  it('counts invalid lines and reports each with file:line, summarising after five', async () => {
    await write('categories.yaml', SOCIAL_META);
    const bad = [
      'ok.example',
      'bad host',
      'a..b',
      'x.example/path',
      'c%zz.example',
      'e f',
      'g h',
      'i j',
      'ok2.example',
    ];
    await write('social/domains', `${bad.join('\n')}\n`);
    await write('social/urls', 'bad host/x\n');
    const loaded = await loadCategories(dir);
    expect(loaded.counts.get('social')).toEqual({ domains: 2, urls: 0, invalid: 8 });
    const file = path.join(dir, 'social/domains');
    expect(loaded.warnings).toEqual([
      `${file}:2: invalid entry (bad-host): "bad host"`,
      `${file}:3: invalid entry (empty-label): "a..b"`,
      `${file}:4: invalid entry (a domains entry has a path; put it in the urls file): "x.example/path"`,
      `${file}:5: invalid entry (bad-percent): "c%zz.example"`,
      `${file}:6: invalid entry (bad-host): "e f"`,
      `${file}: 2 more invalid lines not shown (7 in all)`,
      `${path.join(dir, 'social/urls')}:1: invalid entry (bad-host): "bad host/x"`,
    ]);
  });

  it('joins split chunks (domains.0, domains.1, ...) even when a line straddles them', async () => {
    await write('categories.yaml', SOCIAL_META);
    await write('social/domains.1', 'ook.com\nlast.example\n');
    await write('social/domains.0', 'first.example\nfaceb');
    const loaded = await loadCategories(dir);
    expect(loaded.counts.get('social')).toEqual({ domains: 3, urls: 0, invalid: 0 });
    expect(hostsIn(loaded.lists, 'http://facebook.com/')).toEqual(['social:facebook.com']);
  });

  it('warns about a category with no list files', async () => {
    await write('categories.yaml', SOCIAL_META);
    await mkdir(path.join(dir, 'social'));
    const loaded = await loadCategories(dir);
    expect(loaded.warnings).toEqual([
      `${path.join(dir, 'social')}: category has neither a domains nor a urls file`,
    ]);
  });

  it('can load a subset of categories', async () => {
    await write('categories.yaml', `${SOCIAL_META}games:\n  title: Games\n`);
    await write('social/domains', 'facebook.com\n');
    await write('games/domains', 'games.example\n');
    const loaded = await loadCategories(dir, { only: ['games'] });
    expect([...loaded.counts.keys()]).toEqual(['games']);
  });
});

describe('a list file is valid or it is refused', () => {
  const limits = { maxInvalidLines: 5, maxInvalidShare: 0.01 };
  const hosts = (n: number, prefix = 'host') => Array.from({ length: n }, (_, i) => `${prefix}${i}.example`);

  it('refuses a file with more invalid lines than the limits allow, naming it and the first bad lines', async () => {
    await write('categories.yaml', SOCIAL_META);
    await write('social/domains', `# comment\nok.example\n${hosts(6, 'bad host ').join('\n')}\n`);
    const err = await loadError({ limits });
    const file = path.join(dir, 'social/domains');
    expect(err.code).toBe('SG_LIST_FILE_INVALID');
    expect(err.message).toBe(
      `${file}: 6 of 7 entry lines are invalid, more than the 5 allowed (the larger of lists.maxInvalidLines 5 ` +
        `and lists.maxInvalidShare 1%): line 3 "bad host 0.example" (bad-host); line 4 "bad host 1.example" ` +
        `(bad-host); line 5 "bad host 2.example" (bad-host); line 6 "bad host 3.example" (bad-host); ` +
        `line 7 "bad host 4.example" (bad-host)`,
    );
    expect(err.context).toMatchObject({ file, invalid: 6, entryLines: 7, allowed: 5 });
    // Without limits (`lists categories`) the same file is only counted and warned about.
    expect((await loadCategories(dir)).counts.get('social')).toMatchObject({ domains: 1, invalid: 6 });
  });

  it('loads a handful of invalid lines, or up to the share of a big file, with warnings', async () => {
    await write('categories.yaml', `${SOCIAL_META}games:\n  title: Games\n`);
    await write('social/domains', `${['ok.example', ...hosts(5, 'bad host ')].join('\n')}\n`);
    // 1000 entry lines: 1% is 10 invalid lines, more than the handful of 5.
    await write('games/domains', `${[...hosts(990), ...hosts(10, 'bad host ')].join('\n')}\n`);
    const loaded = await loadCategories(dir, { limits });
    expect(loaded.counts.get('social')).toMatchObject({ domains: 1, invalid: 5 });
    expect(loaded.counts.get('games')).toMatchObject({ domains: 990, invalid: 10 });
    expect(loaded.warnings).toHaveLength(11); // five each spelled out, and a summary for the games file

    await write('games/domains', `${[...hosts(989), ...hosts(11, 'bad host ')].join('\n')}\n`);
    const err = await loadError({ limits });
    expect(err.message).toMatch(
      /games\/domains: 11 of 1000 entry lines are invalid, more than the 10 allowed/,
    );
  });

  it('refuses a list file holding NUL bytes, with or without limits', async () => {
    await write('categories.yaml', SOCIAL_META);
    await write('social/domains', 'facebook.com\ninstagram.com\0\0\0\n');
    const err = await loadError();
    expect(err.code).toBe('SG_LIST_FILE_INVALID');
    expect(err.message).toBe(
      `${path.join(dir, 'social/domains')}:2: binary data, a NUL byte (0x00): not a text list`,
    );
  });
});

describe('a categories directory that does not agree with its metadata is refused', () => {
  it.each([
    [
      'a directory without metadata',
      { 'categories.yaml': SOCIAL_META, 'social/domains': 'a.example\n', 'ghost/domains': 'b.example\n' },
      /Category directory ghost has no entry/,
      { file: 'ghost' },
    ],
    [
      'metadata without a directory',
      { 'categories.yaml': `${SOCIAL_META}chat:\n  title: Chat\n`, 'social/domains': 'a.example\n' },
      /categories\.yaml:6: category chat has no directory/,
      { file: 'categories.yaml', line: 6 },
    ],
    [
      'malformed YAML',
      { 'categories.yaml': 'social:\n  title: [unclosed\n', 'social/domains': 'a.example\n' },
      /is not valid YAML/,
      { file: 'categories.yaml' },
    ],
    [
      'an unknown field, named with its line',
      { 'categories.yaml': `${SOCIAL_META}  flaged: true\n`, 'social/domains': 'a.example\n' },
      /categories\.yaml:6: category social: unknown field "flaged"/,
      { file: 'categories.yaml', line: 6, field: 'social.flaged' },
    ],
    [
      'a field of the wrong type',
      { 'categories.yaml': 'social:\n  title: Social\n  alert: "yes"\n', 'social/domains': 'a.example\n' },
      /categories\.yaml:3: category social: field "alert"/,
      { file: 'categories.yaml', line: 3 },
    ],
    [
      'a missing title',
      { 'categories.yaml': 'social:\n  flagged: true\n', 'social/domains': 'a.example\n' },
      /category social: field "title"/,
      { file: 'categories.yaml' },
    ],
    [
      'no metadata file at all',
      { 'social/domains': 'a.example\n' },
      /categories\.yaml is missing/,
      { file: 'categories.yaml' },
    ],
  ] as const)('%s → SG_CATEGORY_INVALID', async (_name, files, message, context) => {
    for (const [rel, text] of Object.entries(files)) await write(rel, text);
    const err = await loadError();
    expect(err.code).toBe('SG_CATEGORY_INVALID');
    expect(err.message).toMatch(message);
    expect(err.suggestion).toBeTruthy();
    expect(path.relative(dir, String(err.context.file))).toBe(context.file);
    if ('line' in context) expect(err.context.line).toBe(context.line);
    if ('field' in context) expect(err.context.field).toBe(context.field);
  });

  it('an unknown category in `only` is refused', async () => {
    await write('categories.yaml', SOCIAL_META);
    await write('social/domains', 'a.example\n');
    expect((await loadError({ only: ['nope'] })).message).toMatch(/Category nope does not exist/);
  });
});

/** Expected count computed independently of the loader: non-empty, non-comment lines. */
async function contentLines(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
}

describe.skipIf(!HAVE_UT1)(
  'real UT1 categories load completely (metadata generated from directory names)',
  () => {
    const names = ['gambling', 'social_networks', 'chat'];

    it.each(names)('%s: every line is counted and a known entry matches', async (name) => {
      const loaded = await loadCategories(UT1, { metaDefaults: true, only: names });
      const domains = await contentLines(path.join(UT1, name, 'domains'));
      const urls = await contentLines(path.join(UT1, name, 'urls'));
      const counts = loaded.counts.get(name);
      expect(counts).toBeDefined();
      expect((counts?.domains ?? 0) + (counts?.invalid ?? 0) + (counts?.urls ?? 0)).toBe(
        domains.length + urls.length,
      );
      expect(counts?.invalid).toBe(0);
      expect(counts?.domains).toBe(domains.length);
      expect(counts?.urls).toBe(urls.length);

      const known = domains.find((d) => /^[a-z0-9.-]+\.[a-z]+$/.test(d)) as string;
      const middle = domains[Math.floor(domains.length / 2)] as string;
      for (const domain of [known, middle]) {
        const target = parseAbsoluteTarget(`http://www.${domain}/`);
        expect(loaded.lists.match(target).map((m) => m.list)).toContain(name);
      }
    });

    it('does not match a name that only ends like a listed one', async () => {
      const loaded = await loadCategories(UT1, { metaDefaults: true, only: ['social_networks'] });
      expect(hostsIn(loaded.lists, 'http://facebook.com/')).toContain('social_networks:facebook.com');
      expect(hostsIn(loaded.lists, 'http://notfacebook.com/')).toEqual([]);
    });
  },
);
