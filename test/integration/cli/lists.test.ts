/**
 * `schoolgate lists` end to end: the compiled CLI against a temporary data directory and categories folder
 * (real files, real SQLite). The shipped folder is never written; edits land in the local layer.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { getDomain } from 'tldts';
import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { FIXTURE_PROFILES, tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

const UT1 = path.resolve('../shared/data/ut1');
/** The public UT1 lists live beside the repository (../shared/data/ut1); CI has them, a fresh clone may not. */
const HAVE_UT1 = existsSync(UT1);
if (!HAVE_UT1)
  console.warn(`UT1 import tests skipped: ${UT1} not found (../shared/data/ut1 beside the repository)`);

let dir: string;
let data: string;
let categories: string;
let common: string[];

function snapshot(root: string): string {
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('-shm') && !e.name.endsWith('-wal')) hash.update(p).update(readFileSync(p));
    }
  };
  walk(root);
  return hash.digest('hex');
}

async function cli(...args: string[]) {
  return runCli([...args, ...common]);
}

async function json<T = unknown>(...args: string[]): Promise<T> {
  const r = await cli(...args, '--json');
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as T;
}

beforeEach(() => {
  dir = tempDir();
  categories = writeFixtureCategories(path.join(dir, 'categories'));
  data = path.join(dir, 'data');
  writeFileSync(path.join(dir, 'config.yaml'), `profiles: ${JSON.stringify(FIXTURE_PROFILES)}\n`);
  common = ['--config', path.join(dir, 'config.yaml'), '--data', data, '--categories', categories];
});

describe('lists add / remove / find / show', { timeout: 90_000 }, () => {
  it('adds normalised entries to the local layer, never twice, and find names the layer', async () => {
    const shippedBefore = snapshot(categories);
    const add = await cli(
      'lists',
      'add',
      'social',
      'NewSocial.Example.',
      'bücher.test',
      'video.test/Watch/./x',
      '--reason',
      'ticket 7',
    );
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('added      newsocial.example (local)');
    expect(add.stdout).toContain('added      xn--bcher-kva.test (local)');
    expect(add.stdout).toContain('added      video.test/Watch/x (local)');
    expect(add.stdout).toContain('proxy not running here');
    expect(readFileSync(path.join(data, 'categories.local/social/domains'), 'utf8')).toBe(
      'newsocial.example\nxn--bcher-kva.test\n',
    );
    expect(readFileSync(path.join(data, 'categories.local/social/urls'), 'utf8')).toBe(
      'video.test/Watch/x\n',
    );

    const again = await json<{ results: { entry: string; outcome: string; layer: string }[] }>(
      'lists',
      'add',
      'social',
      'newsocial.example',
      '*.facebook.com',
    );
    expect(again.results).toEqual([
      { entry: 'newsocial.example', outcome: 'duplicate', layer: 'local' },
      { entry: 'facebook.com', outcome: 'duplicate', layer: 'shipped' },
    ]);
    expect(readFileSync(path.join(data, 'categories.local/social/domains'), 'utf8').split('\n')).toHaveLength(
      3,
    );

    const found = await json<{ matches: { category: string; layer: string; entry: string }[] }>(
      'lists',
      'find',
      'https://m.newsocial.example/x',
    );
    expect(found.matches).toEqual([
      { category: 'social', entry: 'newsocial.example', kind: 'domain', layer: 'local' },
    ]);
    const shipped = await json<{ matches: { category: string; layer: string }[] }>(
      'lists',
      'find',
      'www.facebook.com',
    );
    expect(shipped.matches).toMatchObject([{ category: 'social', layer: 'shipped' }]);

    // decide() sees the local layer: explain uses the same loader.
    const explain = await json<{ action: string }>(
      'explain',
      '--at',
      '2026-11-10T09:00:00Z',
      'http://newsocial.example/',
      '--profile',
      'pupil',
    );
    expect(explain.action).toBe('block');
    expect(snapshot(categories)).toBe(shippedBefore);
  });

  it('removing a shipped entry un-lists it locally; adding it back re-lists it; comments are kept', async () => {
    mkdirSync(path.join(data, 'categories.local/social'), { recursive: true });
    writeFileSync(
      path.join(data, 'categories.local/social/domains'),
      '# added for the art dept\nlocal.test\n',
    );
    const rm = await cli('lists', 'remove', 'social', 'facebook.com', 'local.test', 'never.test');
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain('unlisted   facebook.com (shipped');
    expect(rm.stdout).toContain('removed    local.test (local)');
    expect(rm.stdout).toContain('not listed never.test');
    expect(readFileSync(path.join(data, 'categories.local/social/domains'), 'utf8')).toBe(
      '# added for the art dept\n',
    );
    expect(
      (
        await json<{ action: string }>(
          'explain',
          '--at',
          '2026-11-10T09:00:00Z',
          'facebook.com',
          '--profile',
          'pupil',
        )
      ).action,
    ).toBe('allow');
    const find = await json<{ matches: unknown[] }>('lists', 'find', 'm.facebook.com');
    expect(find.matches).toEqual([
      { category: 'social', entry: 'facebook.com', kind: 'domain', layer: 'removed' },
    ]);
    expect((await cli('lists', 'find', 'm.facebook.com')).stdout).toMatch(
      /^social +removed +domain facebook\.com$/m,
    );

    const show = await cli('lists', 'show', 'social');
    expect(show.stdout).toMatch(/^removed +domain facebook\.com$/m);
    expect(show.stdout).toMatch(/^shipped +domain social\.test$/m);

    const back = await json<{ results: { outcome: string }[] }>('lists', 'add', 'social', 'facebook.com');
    expect(back.results[0]!.outcome).toBe('relisted');
    expect(
      (
        await json<{ action: string }>(
          'explain',
          '--at',
          '2026-11-10T09:00:00Z',
          'facebook.com',
          '--profile',
          'pupil',
        )
      ).action,
    ).toBe('block');
    // No temp files are left behind by the atomic writes.
    expect(
      readdirSync(path.join(data, 'categories.local/social')).filter((n) => n.includes('.tmp-')),
    ).toEqual([]);
  });

  it('concurrent edits from two technicians both land (the local layer is locked while written)', async () => {
    const names = ['one', 'two', 'three', 'four', 'five'].map((n) => `${n}.example`);
    const runs = await Promise.all(names.map((n) => cli('lists', 'add', 'social', n)));
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0, 0]);
    const lines = readFileSync(path.join(data, 'categories.local/social/domains'), 'utf8').trim().split('\n');
    expect(lines.sort()).toEqual([...names].sort());
    expect(readdirSync(path.join(data, 'categories.local'))).not.toContain('.lock');
  });

  it.each([
    ['a scheme', 'http://example.com', /has a scheme.*write it without the scheme: example\.com/s],
    ['a space', 'exa mple.com', /contains a space/],
    ['an inner wildcard', 'ads.*.example.com', /wildcards are not supported/],
    ['a port', 'example.com:8080', /may not carry a port/],
    ['a bad label', 'exa_m$ple..com', /SG_ENTRY_INVALID/],
  ])(
    'rejects %s with a reason and writes nothing (even for the valid entries beside it)',
    async (_w, bad, message) => {
      const before = snapshot(dir);
      const r = await cli('lists', 'add', 'social', 'fine.example', bad);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('what to do:');
      expect(snapshot(dir)).toBe(before);
    },
  );

  it('names the categories that exist when the category is missing, and changes nothing', async () => {
    const r = await cli('lists', 'add', 'knitting', 'wool.example');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SG_CATEGORY_UNKNOWN: no category named "knitting"/);
    expect(r.stderr).toContain('adult, gambling, social, streaming');
    const find = await cli('lists', 'find', 'http://exa mple.com/');
    expect(find.code).toBe(1);
    expect(find.stderr).toContain('SG_ENTRY_INVALID');
  });
});

describe('explain with the local layer', { timeout: 90_000 }, () => {
  it('shows every matched entry with its action and layer, and why the winner won', async () => {
    await cli('lists', 'add', 'adult', 'm.facebook.com');
    const j = await json<{
      action: string;
      why: string;
      matches: { list: string; entry: string; action: string; layer: string }[];
    }>('explain', '--at', '2026-11-10T09:00:00Z', 'http://m.facebook.com/', '--profile', 'staff');
    expect(j.action).toBe('block');
    expect(j.matches).toEqual([
      { list: 'adult', entry: 'm.facebook.com', kind: 'domain', action: 'block', layer: 'local' },
      { list: 'social', entry: 'facebook.com', kind: 'domain', action: 'warn', layer: 'shipped' },
    ]);
    expect(j.why).toBe(
      'category adult sets block; the most restrictive matched category wins (block > warn > allow), over social (warn)',
    );
    const text = await cli(
      'explain',
      '--at',
      '2026-11-10T09:00:00Z',
      'http://m.facebook.com/',
      '--profile',
      'staff',
    );
    expect(text.stdout).toMatch(/winner: +category adult sets block/);
    expect(text.stdout).toMatch(/adult +block local +m\.facebook\.com \(domain\)/);
    expect(text.stdout).toMatch(/social +warn +shipped facebook\.com \(domain\)/);
  });
});

describe('lists new / delete / categories / export', { timeout: 300_000 }, () => {
  it('creates a local category, lists it with its layer and counts, exports it, deletes it', async () => {
    const made = await cli(
      'lists',
      'new',
      'exam-cheats',
      '--title',
      'Exam cheating',
      '--flagged',
      '--reason',
      'exams',
    );
    expect(made.code).toBe(0);
    expect((await cli('lists', 'new', 'exam-cheats', '--title', 'again')).stderr).toContain(
      'SG_CATEGORY_EXISTS',
    );
    expect((await cli('lists', 'new', 'social', '--title', 'again')).stderr).toMatch(
      /SG_CATEGORY_EXISTS.*\(shipped\)/,
    );
    await cli('lists', 'add', 'exam-cheats', 'answers.example', 'essays.example/buy');
    await cli('lists', 'remove', 'social', 'social.test');
    const cats = await json<
      { name: string; layer: string; domains: number; urls: number; removed: number; flagged: boolean }[]
    >('lists', 'categories');
    expect(cats.find((c) => c.name === 'exam-cheats')).toMatchObject({
      layer: 'local',
      domains: 1,
      urls: 1,
      flagged: true,
    });
    expect(cats.find((c) => c.name === 'social')).toMatchObject({ layer: 'shipped', domains: 1, removed: 1 });

    const plain = await cli('lists', 'export', 'exam-cheats');
    expect(plain.stdout).toBe('answers.example\nessays.example/buy\n');
    const hosts = await cli('lists', 'export', 'social', '--format', 'hosts');
    expect(hosts.stdout).toBe('0.0.0.0 facebook.com\n');
    const adblock = await cli('lists', 'export', 'exam-cheats', '--format', 'adblock');
    expect(adblock.stdout).toBe('||answers.example^\n||essays.example/buy\n');

    expect((await cli('lists', 'delete', 'social')).stderr).toContain('is a shipped category');
    const del = await cli('lists', 'delete', 'exam-cheats');
    expect(del.code).toBe(0);
    expect((await json<{ name: string }[]>('lists', 'categories')).map((c) => c.name)).not.toContain(
      'exam-cheats',
    );
  });

  it('refuses to delete a category a profile uses, unless --force', async () => {
    await cli('lists', 'new', 'homework', '--title', 'Homework help');
    writeFileSync(
      path.join(dir, 'config.yaml'),
      `profiles: ${JSON.stringify({ ...FIXTURE_PROFILES, pupil: { categories: { homework: 'warn' } } })}\n`,
    );
    const r = await cli('lists', 'delete', 'homework');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SG_CATEGORY_IN_USE: profiles pupil use category "homework"/);
    expect((await cli('lists', 'delete', 'homework', '--force')).code).toBe(0);
  });
});

describe('lists import', { timeout: 90_000 }, () => {
  /** Independent count: distinct entries of a UT1 file, by lower-casing and dropping a leading dot. */
  function distinct(file: string): Set<string> {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return new Set();
    }
    const set = new Set<string>();
    for (const line of text.split('\n')) {
      const t = line.trim().toLowerCase().replace(/^\./, '');
      if (t && !t.startsWith('#')) set.add(t);
    }
    return set;
  }
  /** Of those, the hosts that are public suffixes: ICANN ones are refused, private ones kept host-only. */
  function suffixes(set: Set<string>, privateToo = false): number {
    const hosts = [...set].map((e) => e.split(/[/?]/)[0]!).filter((h) => isIP(h) === 0);
    return hosts.filter((h) => getDomain(h, { allowPrivateDomains: privateToo }) === null).length;
  }

  it.skipIf(!HAVE_UT1).each(['dynamic-dns', 'webmail', 'chat', 'audio-video'])(
    'imports UT1 %s: added equals the distinct valid lines of its files',
    async (name) => {
      const src = path.join(UT1, name);
      const lines = ['domains', 'urls']
        .map((f) => {
          try {
            return readFileSync(path.join(src, f), 'utf8')
              .split('\n')
              .filter((l) => l.trim() !== '').length;
          } catch {
            return 0;
          }
        })
        .reduce((a, b) => a + b);
      const sets = [distinct(path.join(src, 'domains')), distinct(path.join(src, 'urls'))];
      const refused = suffixes(sets[0]!) + suffixes(sets[1]!);
      const hostOnly = suffixes(sets[0]!, true) - suffixes(sets[0]!);
      const expected = sets[0]!.size + sets[1]!.size - refused;
      const s = await json<{
        added: number;
        duplicate: number;
        invalid: number;
        lines: number;
        hostOnly: number;
      }>('lists', 'import', name, src, '--format', 'squidguard', '--create');
      expect(s).toMatchObject({
        lines,
        added: expected,
        duplicate: lines - expected - refused,
        invalid: refused,
        invalidBy: refused ? { 'public-suffix': refused } : {},
      });
      // dyndns.org and its like: kept for the provider's own host, never for everyone's names beneath it.
      expect(s.hostOnly).toBe(hostOnly);
      if (name === 'dynamic-dns') expect(hostOnly).toBeGreaterThan(100);
      const cats = await json<{ name: string; domains: number; urls: number; invalid: number }[]>(
        'lists',
        'categories',
      );
      const cat = cats.find((c) => c.name === name)!;
      expect(cat.domains + cat.urls).toBe(expected);
      expect(cat.invalid).toBe(0); // the local files hold no refused line
      // Importing again adds nothing.
      const again = await json<{ added: number; duplicate: number }>(
        'lists',
        'import',
        name,
        src,
        '--format',
        'squidguard',
      );
      expect(again).toMatchObject({ added: 0, duplicate: lines - refused });
    },
  );

  it('reads hosts, plain and adblock sources, reports invalid lines, and --replace replaces', async () => {
    const hosts = path.join(dir, 'hosts.txt');
    writeFileSync(
      hosts,
      '# Title: test\n127.0.0.1 localhost\n::1 localhost ip6-localhost\n0.0.0.0 0.0.0.0\n0.0.0.0 a.example b.example # two\n0.0.0.0 bad..example\n0.0.0.0 a.example\n',
    );
    const h = await json<{
      added: number;
      duplicate: number;
      invalid: number;
      invalidLines: { line: number }[];
    }>('lists', 'import', 'social', hosts, '--format', 'hosts');
    expect(h).toMatchObject({ added: 2, duplicate: 1, invalid: 1 });
    expect(h.invalidLines[0]!.line).toBe(6);

    const adblock = path.join(dir, 'list.txt');
    writeFileSync(
      adblock,
      '[Adblock Plus 2.0]\n! comment\n||c.example^\n||d.example^$important\n##.banner\n@@||ok.example^\n||social.test^\n',
    );
    const a = await json<{ added: number; duplicate: number; skipped: number }>(
      'lists',
      'import',
      'social',
      adblock,
      '--format',
      'adblock',
    );
    expect(a).toMatchObject({ added: 2, duplicate: 1, skipped: 4 });

    const plain = path.join(dir, 'plain.txt');
    writeFileSync(plain, 'e.example\ne.example/path # note\n\n# c\n');
    const dry = await json<{ added: number }>(
      'lists',
      'import',
      'social',
      plain,
      '--format',
      'plain',
      '--replace',
      '--dry-run',
    );
    expect(dry.added).toBe(2);
    expect(readFileSync(path.join(data, 'categories.local/social/domains'), 'utf8')).toContain('a.example');
    const p = await json<{ added: number }>(
      'lists',
      'import',
      'social',
      plain,
      '--format',
      'plain',
      '--replace',
    );
    expect(p.added).toBe(2);
    expect(readFileSync(path.join(data, 'categories.local/social/domains'), 'utf8')).toBe('e.example\n');
    expect(readFileSync(path.join(data, 'categories.local/social/urls'), 'utf8')).toBe('e.example/path\n');

    const text = await cli('lists', 'import', 'social', hosts, '--format', 'hosts');
    expect(text.stdout).toMatch(/imported into social: 2 added, 1 duplicate, 1 invalid/);
    expect(text.stdout).toMatch(/invalid .*hosts\.txt:6: "0\.0\.0\.0 bad\.\.example"/);
  });

  it('a source that is not text is refused, even with --force, and changes nothing', async () => {
    // Two good lines, then the start of a gzip stream: a compressed list saved under a .txt name.
    const gz = path.join(dir, 'list.txt');
    writeFileSync(
      gz,
      Buffer.concat([Buffer.from('a.example\nb.example\n'), Buffer.from([0x1f, 0x8b, 0x08, 0x00])]),
    );
    const nul = path.join(dir, 'nul.txt');
    writeFileSync(nul, 'a.example\nb.exa\0mple\n');
    const latin1 = path.join(dir, 'latin1.txt');
    writeFileSync(latin1, Buffer.from('a.example\ncaf\xe9.example\n', 'latin1'));
    for (const [file, message] of [
      [gz, ':3: not UTF-8 text (byte 0x8b)'],
      [nul, ':2: binary data, a NUL byte (0x00): not a text list'],
      [latin1, ':2: not UTF-8 text (byte 0xe9)'],
    ] as const) {
      for (const extra of [[], ['--force']]) {
        const r = await cli('lists', 'import', 'social', file, '--format', 'plain', ...extra);
        expect(r.code).toBe(1);
        expect(r.stderr.split('\n')[0]).toBe(`error SG_LIST_FILE_INVALID: ${file}${message}`);
      }
    }
    expect(existsSync(path.join(data, 'categories.local/social'))).toBe(false);
  });

  it('a source with more invalid lines than the limits allow is refused unless --force', async () => {
    // A damaged plain list: six names with an empty label, two good ones.
    const src = path.join(dir, 'mixed.txt');
    const bad = Array.from({ length: 6 }, (_, i) => `host${i}..example`);
    writeFileSync(src, `ok1.example\n${bad.join('\n')}\nok2.example\n`);
    const refused = await cli('lists', 'import', 'newcat', src, '--format', 'plain', '--create');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `error SG_LIST_FILE_INVALID: ${src}: 6 of 8 entry lines are invalid, more than the 5 allowed (the larger ` +
        'of lists.maxInvalidLines 5 and lists.maxInvalidShare 1%): line 2 "host0..example" (empty-label);',
    );
    expect(refused.stderr).toContain('run the command again with --force');
    // Nothing written, and the category --create made for it is gone again.
    const cats = await json<{ name: string }[]>('lists', 'categories');
    expect(cats.map((c) => c.name)).not.toContain('newcat');
    const none = await cli('lists', 'import', 'social', src, '--format', 'plain');
    expect(none.code).toBe(1);
    expect(existsSync(path.join(data, 'categories.local/social'))).toBe(false);

    const forced = await json<{ added: number; invalid: number }>(
      'lists',
      'import',
      'social',
      src,
      '--format',
      'plain',
      '--force',
    );
    expect(forced).toMatchObject({ added: 2, invalid: 6 });
    expect(readFileSync(path.join(data, 'categories.local/social/domains'), 'utf8')).toBe(
      'ok1.example\nok2.example\n',
    );
    const changes = await json<{ action: string; after: { forced: boolean } }[]>('changes');
    expect(changes).toMatchObject([{ action: 'lists.import', after: { forced: true } }]);
  });

  it('an unreadable source or a wrong format changes nothing', async () => {
    const before = snapshot(dir);
    const missing = await cli('lists', 'import', 'social', path.join(dir, 'nope.txt'), '--format', 'plain');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/SG_FILE_UNREADABLE: cannot read .*nope\.txt: ENOENT/);
    const wrong = await cli('lists', 'import', 'social', categories, '--format', 'hosts');
    expect(wrong.stderr).toContain('is a directory; --format hosts reads one file');
    const format = await cli('lists', 'import', 'social', categories, '--format', 'csv');
    expect(format.code).toBe(1);
    expect(format.stderr).toMatch(/Allowed choices are squidguard, hosts, plain, adblock/);
    expect(snapshot(dir)).toBe(before);
  });
});
