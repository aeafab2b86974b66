/**
 * Hostile inputs against the local layer as an overlay (src/lists/local-overlay.ts): for each case, real
 * shipped/provider/local folders are loaded twice, by a full rebuild from text (loadCategories) and as the
 * snapshot of the big layers with the local layer over it (loadCategoriesImage + listsOfImage, the path
 * start and reload take), and every target's matches and decision must be the same; the snapshot is then
 * read back and asked again. Each case also states the decision a school expects for its key targets, so
 * a case fails when both paths are wrong alike. The property test (local-overlay.property.test.ts) covers
 * well-formed entries; this one covers what a technician or a hostile list can write: case, trailing dots,
 * IDN and full-width forms, IP spellings, wildcards, CRLF, comments and blanks, percent-encoded and
 * case-varied URL rules, removals of either kind in any category, regex rules, and files near the limits.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCategories } from '../../../src/lists/load.js';
import { loadCategoriesOffThread } from '../../../src/lists/load-off-thread.js';
import { loadCategoriesImage } from '../../../src/lists/load-snapshot.js';
import { readLocalLayer } from '../../../src/lists/local-layer.js';
import { parseAbsoluteTarget } from '../../../src/policy/target.js';
import type { Action } from '../../../src/policy/types.js';
import { agree, answer, check, crlf, lf, setUp, type Case } from './overlay-fixture.js';

describe('the overlay answers as a full rebuild on hostile list lines and targets', () => {
  it('case, trailing dots, full-width letters and the ideographic dot, in CRLF files', async () => {
    await check({
      shipped: {
        social: { domains: crlf(['Blocked.Example.', 'keep.example']) },
        adult: { domains: crlf(['BLOCKED.example']) },
      },
      // Un-listed from social only: adult still lists it.
      local: { social: { removed: crlf(['ｂｌｏｃｋｅｄ。EXAMPLE.', '', '   ', '# why: teacher asked']) } },
      expect: {
        'http://blocked.example/': 'block',
        'http://BLOCKED.EXAMPLE./x': 'block',
        'http://www.blocked.example:8080/': 'block',
        'http://ｋｅｅｐ.example/': 'block',
        'http://keep.example./': 'block',
      },
    }).then((l) => {
      const cats = answer(l.layered, 'http://blocked.example/').categories;
      expect(cats).toEqual(['adult']);
    });
  });

  it('IDN: a Unicode shipped entry un-listed by its punycode, and re-added in another category', async () => {
    await check({
      shipped: { adult: { domains: lf(['bücher.example', 'straße.example']) } },
      local: {
        adult: { removed: lf(['xn--bcher-kva.example', 'STRASSE.example']) },
        games: { domains: lf(['BÜCHER.example']) },
      },
      expect: {
        'http://xn--bcher-kva.example/': 'warn',
        'http://www.bücher.example/': 'warn',
        // UTS-46 keeps ß (xn--strae-oqa): STRASSE is another name and un-lists nothing.
        'http://straße.example/': 'block',
        'http://strasse.example/': 'allow',
      },
    });
  });

  it('IP spellings: a shipped address un-listed by another spelling of it; mapped and short forms', async () => {
    await check({
      shipped: {
        adult: { domains: lf(['10.0.0.1', '[2001:DB8::1]', '192.168.0.7']), urls: lf(['10.0.0.9/Admin']) },
      },
      local: {
        adult: { removed: lf(['0x0a.0.0.1', '2001:db8:0:0:0:0:0:1', '10.0.0.9/admin']) },
        social: { domains: lf(['::ffff:192.168.0.7', '167772162']) },
      },
      expect: {
        'http://10.0.0.1/': 'allow',
        'http://167772161/': 'allow',
        'http://[::ffff:10.0.0.1]/': 'allow',
        'http://[2001:db8::1]/': 'allow',
        'http://10.0.0.9/admin/x': 'allow',
        'http://192.168.0.7/': 'block',
        'http://0300.0250.0.7/': 'block',
        'http://10.0.0.2/': 'block',
        'http://10.2/': 'block',
      },
    });
  });

  it('wildcards: removing a subdomain of a shipped *. entry un-lists nothing; *. removes the domain', async () => {
    await check({
      shipped: {
        social: { domains: lf(['*.wild.example', 'other.example', '.dotted.example']) },
      },
      local: { social: { removed: lf(['sub.wild.example', '*.other.example', '*.dotted.example']) } },
      expect: {
        'http://sub.wild.example/': 'block',
        'http://wild.example/': 'block',
        'http://other.example/': 'allow',
        'http://www.other.example/': 'allow',
        'http://x.dotted.example/': 'allow',
      },
    });
  });

  it('a private suffix: *.github.io un-lists the exact host github.io, never a site beneath it', async () => {
    await check({
      shipped: { social: { domains: lf(['github.io', 'evil.github.io']) } },
      local: { social: { removed: lf(['*.github.io']), domains: lf(['Other.GitHub.io.']) } },
      expect: {
        'http://github.io/': 'allow',
        'http://evil.github.io/': 'block',
        'http://other.github.io/': 'block',
        'http://x.other.github.io/': 'block',
        'http://nobody.github.io/': 'allow',
      },
    });
  });

  it('a local add duplicating a shipped entry of another category, and removing then re-adding', async () => {
    await check({
      shipped: {
        edu: { domains: lf(['dup.example']) },
        social: { domains: lf(['readd.example']), urls: lf(['video.example/Watch?v=ABC']) },
      },
      provider: { social: { domains: lf(['provider.example']) } },
      local: {
        social: {
          domains: lf(['dup.example', 'READD.example.', 'provider.example']),
          urls: lf(['VIDEO.example/watch?v=abc']),
          removed: lf(['readd.example', 'provider.example', 'video.example/WATCH?v=abc']),
        },
      },
      expect: {
        'http://dup.example/': 'block',
        'http://readd.example/': 'block',
        'http://provider.example/': 'block',
        'http://video.example/watch?v=abc&t=1': 'block',
        'http://video.example/watch?v=abcd': 'allow',
      },
    }).then((l) => {
      // Not repeated: the full index interns the local copy into the shipped entry.
      const m = l.layered.match(parseAbsoluteTarget('http://dup.example/'));
      expect(m.map((x) => x.list)).toEqual(['social', 'edu']);
    });
  });

  it("a school category's URL rules under a host a shipped category lists, percent-encoded and in any case", async () => {
    await check({
      shipped: { edu: { domains: lf(['school.example']) }, social: { urls: lf(['school.example/Chat']) } },
      mine: ['mine'],
      local: {
        mine: {
          urls: crlf([
            'school.example/Games',
            'SCHOOL.example/a%2Fb',
            'school.example./x?y=1',
            'school.example/%41rcade',
          ]),
        },
      },
      expect: {
        'http://school.example/': 'allow',
        'http://school.example/games': 'block',
        'http://www.school.example/GAMES/x': 'block',
        'http://school.example/gamesx': 'allow',
        'http://school.example/a%2fb': 'block',
        'http://school.example/x?y=1&z=2': 'block',
        'http://school.example/x?y=12': 'allow',
        'http://school.example/arcade': 'block',
        'http://school.example/%61rcade/1': 'block',
        'http://school.example/chat': 'block',
      },
    });
  });

  it('a removed key in a category that does not exist, or in a school category, un-lists nothing', async () => {
    const l = await check({
      shipped: { social: { domains: lf(['stays.example']), urls: lf(['nopath.example']) } },
      mine: ['mine'],
      local: {
        ghost: { removed: lf(['stays.example']) },
        mine: { removed: lf(['stays.example']) },
        // A `removed` line without a path is a domain key: it does not un-list a urls line with no path.
        social: { removed: lf(['nopath.example']) },
      },
      expect: { 'http://stays.example/': 'block', 'http://nopath.example/x': 'block' },
    });
    expect(l.warnings.layered.some((w) => /ghost: local entries for no category/.test(w))).toBe(true);
  });

  it('blank, whitespace, comment and BOM lines, tabs and a last line without a newline', async () => {
    await check({
      shipped: { social: { domains: '\uFEFFbom.example\r\n\t tabbed.example \t\r\n#c\r\n\r\nlast.example' } },
      local: {
        social: { removed: '\uFEFFtabbed.example\n   \n# last.example\n\tlast.example\t' },
        adult: { domains: '\r\n \r\n#x.example\r\nadded.example' },
      },
      expect: {
        'http://bom.example/': 'block',
        'http://tabbed.example/': 'allow',
        'http://last.example/': 'allow',
        'http://added.example/': 'block',
        'http://x.example/': 'allow',
      },
    });
  });

  it('regex rules (case-insensitive): a local rule beside, or duplicating, a shipped one; more than the cap falls back whole', async () => {
    await check({
      shipped: { social: { expressions: lf(['^chat\\.', 'forum']) } },
      local: { social: { expressions: lf(['forum', 'Casino']) }, adult: { expressions: lf(['^chat\\.']) } },
      expect: {
        'http://chat.example/': 'block',
        'http://x.example/forum': 'block',
        'http://x.example/Casino': 'block',
        'http://x.example/casino': 'block',
        'http://x.example/cas1no': 'allow',
      },
    }).then((l) => {
      const m = l.layered.match(parseAbsoluteTarget('http://chat.example/forum'));
      expect(m.map((x) => `${x.list} ${x.entry}`)).toEqual([
        'social ^chat\\.',
        'social forum',
        'adult ^chat\\.',
      ]);
    });
    const many = Array.from({ length: 150 }, (_, i) => `^r${i}x\\.`);
    const l = await check({
      shipped: { social: { expressions: lf(many) } },
      local: { adult: { expressions: lf(Array.from({ length: 60 }, (_, i) => `^l${i}y\\.`)) } },
      expect: {
        'http://r149x.example/': 'block',
        'http://l49y.example/': 'block',
        'http://l50y.example/': 'allow',
      },
    });
    expect(l.snapshot).toBe('none');
  });
});

describe('provider entries for a category the school created', () => {
  it('are blocked as the full rebuild blocks them (the overlay used to skip them: an open filter)', async () => {
    // The base is built without the school's categories, so it skips provider/mine; the full load puts
    // those entries in `mine`. The load now builds from text instead of answering from the overlay.
    const l = await check({
      shipped: { social: { domains: lf(['s.example']) } },
      provider: { mine: { domains: lf(['prov.example']), urls: lf(['s.example/Games']) } },
      mine: ['mine'],
      local: { mine: { domains: lf(['own.example']), removed: lf(['gone.example']) } },
      expect: {
        'http://own.example/': 'block',
        'http://prov.example/': 'block',
        'http://www.prov.example/': 'block',
        'http://s.example/games': 'block',
      },
    });
    expect(l.snapshot).toBe('none');
  });
});

describe('the overlay near the limits', () => {
  it('large local files: 20 000 additions and 20 000 removals of 40 000 shipped entries', async () => {
    const shipped = Array.from({ length: 40_000 }, (_, i) => `s${i}.example`);
    const added = Array.from({ length: 20_000 }, (_, i) => `A${i}.EXAMPLE.`);
    const removed = shipped.filter((_, i) => i % 2 === 0).map((d) => d.toUpperCase());
    const sample = (i: number) => [`http://s${i}.example/`, `http://www.a${i}.example/`];
    await check({
      shipped: { social: { domains: lf(shipped) } },
      local: { social: { removed: crlf(removed) }, games: { domains: crlf(added) } },
      expect: {
        'http://s0.example/': 'allow',
        'http://s1.example/': 'block',
        'http://s39998.example/': 'allow',
        'http://s39999.example/': 'block',
        'http://a19999.example/': 'warn',
      },
      also: [0, 7, 1234, 19_999, 39_997].flatMap(sample),
    });
  });

  it('a local file over the invalid-line limit is refused by both loads, at the limit loaded by both', async () => {
    const limits = { maxInvalidLines: 2, maxInvalidShare: 0 };
    const at = {
      shipped: { social: { domains: lf(['s.example']) } },
      local: { social: { domains: lf(['ok.example', 'bad..example', 'x:80']) } },
      expect: { 'http://ok.example/': 'block' as Action },
      limits,
    };
    await check(at);
    const over = { ...at, local: { social: { domains: lf(['ok.example', 'bad..example', 'x:80', 'a b']) } } };
    const { load } = await setUp(over);
    await expect(load()).rejects.toMatchObject({ code: 'SG_LIST_FILE_INVALID' });
    const { dataDir } = await setUp(over);
    const local = await readLocalLayer(dataDir);
    await expect(
      loadCategoriesImage(path.join(path.dirname(dataDir), 'categories'), {
        local,
        limits,
        snapshotDir: path.join(dataDir, 'lists-index'),
      }),
    ).rejects.toMatchObject({ code: 'SG_LIST_FILE_INVALID' });
  });

  it("a school's removals do not push a shipped file over the invalid share: both loads load it", async () => {
    // 5 invalid of 105 entry lines is within 5%; counted without the 60 un-listed lines it would be 5 of
    // 45, and the full load used to refuse what the overlay (its snapshot built without removals) loaded.
    const valid = Array.from({ length: 100 }, (_, i) => `v${i}.example`);
    await check({
      shipped: { social: { domains: lf([...valid, 'a..b', 'c..d', 'e..f', 'g..h', 'i..j']) } },
      local: { social: { removed: lf(valid.slice(0, 60)) } },
      expect: { 'http://v0.example/': 'allow', 'http://v60.example/': 'block' },
      limits: { maxInvalidLines: 1, maxInvalidShare: 0.05 },
    });
  });
});

describe('the overlay posted by the lists worker', () => {
  it('answers as a full rebuild (the worker when built, else this thread, as start and reload load)', async () => {
    const c: Case = {
      shipped: {
        social: {
          domains: crlf(['Blocked.Example.', '*.wild.example', 'github.io']),
          urls: lf(['v.example/W?a=1']),
        },
        adult: { domains: lf(['10.0.0.1', 'bücher.example']) },
      },
      mine: ['mine'],
      local: {
        social: {
          removed: crlf(['ｂｌｏｃｋｅｄ。example', 'sub.wild.example', '*.github.io', 'V.example/w?A=1']),
        },
        adult: { removed: lf(['0x0a.0.0.1']), domains: lf(['xn--bcher-kva.example', '10.0.0.2']) },
        mine: { urls: lf(['wild.example/Games']), expressions: lf(['^casino\\.']) },
      },
      expect: {
        'http://blocked.example/': 'allow',
        'http://sub.wild.example/': 'block',
        'http://wild.example/games/1': 'block',
        'http://github.io/': 'allow',
        'http://v.example/w?a=1': 'allow',
        'http://167772161/': 'allow',
        'http://10.2/': 'block',
        'http://bücher.example/': 'block',
        'http://casino.example/': 'block',
      },
    };
    const { dataDir } = await setUp(c);
    const dir = path.join(path.dirname(dataDir), 'categories');
    const opts = { local: await readLocalLayer(dataDir) };
    const full = await loadCategories(dir, opts);
    const snapshotDir = path.join(dataDir, 'lists-index');
    for (const state of ['written', 'read']) {
      const off = await loadCategoriesOffThread(dir, { ...opts, snapshotDir });
      expect(off.snapshot).toBe(state);
      agree(
        { full: full.lists, layered: off.lists, snapshot: off.snapshot, warnings: { full: [], layered: [] } },
        c,
      );
    }
  });
});
