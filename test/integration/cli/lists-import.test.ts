/**
 * Imports a technician can trust (issue 14), through the compiled CLI against real files: garbage never
 * becomes a top-level block, a wrong --format is refused, skipped lines are counted by reason, a whole
 * UT1/squidGuard tree imports in one command (test/fixtures/ut1-mini always; the shared UT1 copy when
 * present), and reserved category names cannot wipe the profile exceptions.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { FIXTURE_PROFILES, tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

const MINI = path.resolve('test/fixtures/ut1-mini');
const UT1 = path.resolve('../shared/data/ut1');
const HAVE_UT1 = existsSync(UT1);
if (!HAVE_UT1)
  console.warn(`UT1 import-tree test skipped: ${UT1} not found (../shared/data/ut1 beside the repository)`);

let dir: string;
let data: string;
let common: string[];

const cli = (...args: string[]) => runCli([...args, ...common]);

async function json<T>(...args: string[]): Promise<T> {
  const r = await cli(...args, '--json');
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as T;
}

function source(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const local = (...p: string[]) => path.join(data, 'categories.local', ...p);

beforeEach(() => {
  dir = tempDir();
  const categories = writeFixtureCategories(path.join(dir, 'categories'));
  data = path.join(dir, 'data');
  writeFileSync(path.join(dir, 'config.yaml'), `profiles: ${JSON.stringify(FIXTURE_PROFILES)}\n`);
  common = ['--config', path.join(dir, 'config.yaml'), '--data', data, '--categories', categories];
});

interface Summary {
  added: number;
  invalid: number;
  skipped: number;
  invalidBy: Record<string, number>;
  skippedBy: Record<string, number>;
  invalidLines: { line: number; reason: string }[];
  skippedLines: { line: number; reason: string }[];
}

describe('garbage never becomes a top-level block', { timeout: 90_000 }, () => {
  it('a hosts line that does not start with an address adds nothing; TLDs are refused by reason', async () => {
    const hosts = source(
      'hosts.txt',
      '0.0.0.0 ads.example\nthis line is garbage\n0.0.0.0 com\n0.0.0.0 tracker.example co.uk\n',
    );
    const s = await json<Summary>('lists', 'import', 'social', hosts, '--format', 'hosts');
    expect(s).toMatchObject({
      added: 2,
      invalid: 3,
      invalidBy: { 'hosts-no-address': 1, 'public-suffix': 2 },
    });
    expect(s.invalidLines.map((l) => [l.line, l.reason])).toEqual([
      [2, 'hosts-no-address'],
      [3, 'public-suffix'],
      [4, 'public-suffix'],
    ]);
    expect(readFileSync(local('social', 'domains'), 'utf8')).toBe('ads.example\ntracker.example\n');
    for (const host of ['www.bbc.com', 'line.is', 'garbage.is'])
      expect((await cli('lists', 'find', host)).stdout).toBe(`${host}: in no category\n`);
  });

  it('lists add refuses a public suffix and an address range, naming why, and writes nothing', async () => {
    for (const [entry, why] of [
      ['com', 'top-level domain or public suffix'],
      ['co.uk', 'top-level domain or public suffix'],
      ['10.0.0.0/8', 'address range (CIDR)'],
    ]) {
      const r = await cli('lists', 'add', 'social', 'ok.example', entry!);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error SG_ENTRY_INVALID: "${entry}" is not a list entry: it is`);
      expect(r.stderr).toContain(why);
    }
    expect(existsSync(local('social'))).toBe(false);
    // A private suffix is the host itself only: github.io, never everyone's pages beneath it.
    await cli('lists', 'add', 'social', 'github.io');
    expect((await cli('lists', 'find', 'github.io')).stdout).toMatch(/social\s+local\s+domain github\.io/);
    expect((await cli('lists', 'find', 'someone.github.io')).stdout).toBe(
      'someone.github.io: in no category\n',
    );
  });
});

describe('a wrong --format is refused, not "0 added"', { timeout: 90_000 }, () => {
  it.each([
    ['a plain list read as adblock', 'ads.example\ntracker.example\nmore.example\n', 'adblock', 'plain'],
    ['a hosts file read as plain', '0.0.0.0 a.example\n0.0.0.0 b.example\nok.example\n', 'plain', 'hosts'],
    ['an adblock list read as hosts', '! t\n||a.example^\n||b.example^\n', 'hosts', 'adblock'],
    ['an adblock list read as plain', '||a.example^\n||b.example^$third-party\n', 'plain', 'adblock'],
  ])('%s', async (_what, text, format, detected) => {
    const file = source('list.txt', text);
    for (const extra of [[], ['--force']]) {
      const r = await cli('lists', 'import', 'social', file, '--format', format!, ...extra);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `error SG_IMPORT_FORMAT_WRONG: ${file} is not ${format === 'adblock' ? 'an' : 'a'} ${format} list`,
      );
      expect(r.stderr).toContain(`--format ${detected}`);
    }
    expect(existsSync(local('social'))).toBe(false);
  });

  it('an error page saved as the list is refused whatever the format', async () => {
    const file = source('list.txt', '<!DOCTYPE html>\n<html lang="en">\n<title>404 Not Found</title>\n');
    const r = await cli('lists', 'import', 'social', file, '--format', 'adblock');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('none of its 3 entry lines looks like adblock lines');
  });
});

describe('skipped lines are counted by reason and shown with their line numbers', { timeout: 90_000 }, () => {
  it('an adblock list: host rules imported, the rest listed by reason', async () => {
    const file = source(
      'easy.txt',
      [
        '[Adblock Plus 2.0]',
        '! Title: test',
        '||ads.example^',
        '||third.example^$third-party',
        '@@||ok.example^',
        '##.banner',
        '||*.wild.example^',
        '/banner[0-9]/',
        '||cdn.example/ads/',
      ].join('\n'),
    );
    const s = await json<Summary>('lists', 'import', 'social', file, '--format', 'adblock');
    expect(s).toMatchObject({
      added: 2,
      skippedBy: {
        'adblock-header': 1,
        comment: 1,
        'adblock-option': 1,
        'adblock-exception': 1,
        'adblock-cosmetic': 1,
        'adblock-wildcard': 1,
        'adblock-regex': 1,
      },
    });
    expect(s.skippedLines.map((l) => [l.line, l.reason])).toEqual([
      [4, 'adblock-option $third-party'],
      [5, 'adblock-exception'],
      [6, 'adblock-cosmetic'],
      [7, 'adblock-wildcard'],
      [8, 'adblock-regex'],
    ]);
    const text = await cli('lists', 'import', 'social', file, '--format', 'adblock', '--dry-run');
    expect(text.stdout).toContain(
      'skipped       1  adblock-option: an option narrows the rule to some requests',
    );
    expect(text.stdout).toMatch(
      /skipped .*easy\.txt:4: "\|\|third\.example\^\$third-party" \(adblock-option \$third-party\)/,
    );
  });

  it('the help’s own `lists import vpn … --create --dry-run` works and creates nothing', async () => {
    const file = source('vpn.txt', '||vpn-one.example^\n||vpn-two.example^\n');
    const r = await cli('lists', 'import', 'vpn', file, '--format', 'adblock', '--create', '--dry-run');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('would import into vpn (a new category): 2 added');
    const cats = await json<{ name: string }[]>('lists', 'categories');
    expect(cats.map((c) => c.name)).not.toContain('vpn');
    expect(existsSync(local('vpn'))).toBe(false);
  });
});

describe('reserved category names', { timeout: 90_000 }, () => {
  it('profiles cannot be created, and deleting one made by hand keeps every profile exception', async () => {
    const made = await cli('lists', 'new', 'profiles', '--title', 'x');
    expect(made.code).toBe(1);
    expect(made.stderr).toContain('error SG_ARGUMENT_INVALID: "profiles" is reserved');
    const imported = await cli(
      'lists',
      'import',
      'profiles',
      source('p.txt', 'a.example\n'),
      '--format',
      'plain',
      '--create',
    );
    expect(imported.stderr).toContain('"profiles" is reserved');

    const added = await cli(
      'exceptions',
      'add',
      'school.example',
      '--allow',
      '--profile',
      'pupil',
      '--reason',
      'coursework',
      '--by',
      'IT',
    );
    expect(added.code, added.stderr).toBe(0);
    // An older version accepted the name: the metadata is there by hand.
    mkdirSync(path.dirname(local('categories.yaml')), { recursive: true });
    writeFileSync(
      local('categories.yaml'),
      'profiles:\n  title: x\n  description: ""\n  flagged: false\n  alert: false\n',
    );
    const del = await cli('lists', 'delete', 'profiles');
    expect(del.code).toBe(0);
    const kept = await json<{ site: string }[]>('exceptions', 'list');
    expect(kept.map((e) => e.site)).toEqual(['school.example']);
  });
});

interface TreeJson {
  categories: {
    name: string;
    category: string;
    created: boolean;
    added: number;
    expressions: number;
    invalidBy: Record<string, number>;
    error?: { code: string };
  }[];
  notImported: { name: string; reason: string }[];
}

describe('lists import-tree', { timeout: 120_000 }, () => {
  it('imports every black category of a UT1 tree; white, aliases and empty folders are listed, not imported', async () => {
    const dry = await json<TreeJson>('lists', 'import-tree', MINI, '--dry-run');
    expect(dry.categories.map((c) => [c.name, c.category, c.created, c.added])).toEqual([
      ['adult', 'adult', false, 2],
      ['gambling', 'gambling', false, 4],
      ['malware', 'malware', true, 2],
      ['vpn', 'vpn', true, 3],
    ]);
    expect(dry.notImported).toEqual([
      { name: 'educational_games', reason: 'usage-white', detail: expect.stringContaining('usage: white') },
      { name: 'empty', reason: 'no-list-files', detail: expect.any(String) },
      { name: 'porn', reason: 'alias', detail: 'alias of adult' },
    ]);
    for (const written of ['categories.yaml', 'vpn', 'adult', 'gambling', 'malware'])
      expect(existsSync(local(written))).toBe(false);

    const text = await cli('lists', 'import-tree', MINI);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^gambling\s+gambling\s+4\s+1\s+1\s+0\s+0\s+public-suffix 1$/m);
    expect(text.stdout).toMatch(/^vpn\s+vpn \(new\)\s+3\s+0\s+1\s+0\s+0\s+address-range 1$/m);
    expect(text.stdout).toMatch(/^adult\s+adult\s+2\s+0\s+1\s+0\s+1\s+bad-regex 1$/m);
    expect(text.stdout).toContain('not imported: porn (alias of adult)');
    expect(readFileSync(local('adult', 'expressions'), 'utf8')).toBe('(/nsfw/|/xxx/)\n');
    expect(existsSync(local('educational_games'))).toBe(false);

    // The regex rule blocks through the same decision as every entry; the white list's site does not.
    const pupil = (url: string) =>
      json<{ action: string; categories: string[] }>('explain', url, '--profile', 'pupil');
    expect(await pupil('https://x.example/a/NSFW/b')).toMatchObject({
      action: 'block',
      categories: ['adult'],
    });
    expect((await pupil('https://learn.example/')).categories).toEqual([]);
    expect((await cli('lists', 'find', 'https://x.example/a/NSFW/b')).stdout).toMatch(
      /^adult\s+local\s+regex\s+\(\/nsfw\/\|\/xxx\/\)$/m,
    );
    // UT1's optional very_restrictive_expression is not read.
    expect((await pupil('https://adultsite.example.net/')).categories).toEqual([]);

    const changes = await json<{ action: string; target: string }[]>('changes');
    expect(changes).toMatchObject([{ action: 'lists.import-tree', target: MINI }]);
  });

  it('--only and --map choose folders and where they go; an unknown name changes nothing', async () => {
    const r = await json<TreeJson>(
      'lists',
      'import-tree',
      MINI,
      '--only',
      'vpn,malware',
      '--map',
      'vpn=anonymisers',
    );
    expect(r.categories.map((c) => [c.name, c.category])).toEqual([
      ['malware', 'malware'],
      ['vpn', 'anonymisers'],
    ]);
    expect(readFileSync(local('anonymisers', 'domains'), 'utf8')).toBe(
      'vpn-one.example\nvpn-two.example\ndyndns.org\n',
    );
    const bad = await cli('lists', 'import-tree', MINI, '--only', 'nope');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('has no category folder "nope"');
    const reserved = await cli('lists', 'import-tree', MINI, '--map', 'vpn=profiles');
    expect(reserved.stderr).toContain('"profiles" is reserved');
  });

  it('a folder refused (too many invalid lines) writes nothing for it; the others import', async () => {
    const tree = path.join(dir, 'tree');
    mkdirSync(path.join(tree, 'good'), { recursive: true });
    mkdirSync(path.join(tree, 'broken'), { recursive: true });
    writeFileSync(path.join(tree, 'good', 'domains'), 'good.example\n');
    writeFileSync(
      path.join(tree, 'broken', 'domains'),
      Array.from({ length: 9 }, (_, i) => `b${i}..example`).join('\n'),
    );
    const r = await cli('lists', 'import-tree', tree);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^broken\s+broken\s+REFUSED error SG_LIST_FILE_INVALID/m);
    expect(readFileSync(local('good', 'domains'), 'utf8')).toBe('good.example\n');
    const cats = await json<{ name: string }[]>('lists', 'categories');
    expect(cats.map((c) => c.name)).toContain('good');
    expect(cats.map((c) => c.name)).not.toContain('broken');
  });

  it.skipIf(!HAVE_UT1)('the shared UT1 copy: white lists stay out, expressions become rules', async () => {
    const r = await json<TreeJson>(
      'lists',
      'import-tree',
      UT1,
      '--only',
      'publicite,vpn,educational_games,porn',
      '--dry-run',
    );
    expect(r.categories.map((c) => c.name)).toEqual(['publicite', 'vpn']);
    expect(r.categories[0]!.expressions).toBe(1);
    // (The shared copy stores UT1's alias symlinks as plain files, which are not category folders.)
    expect(r.notImported.map((n) => [n.name, n.reason])).toEqual([['educational_games', 'usage-white']]);
  });
});
