/**
 * The local layer as an overlay on the snapshot of the big layers (src/lists/local-overlay.ts) against a
 * full rebuild from text (loadCategories): generated shipped, provider and local files (domains, urls,
 * `*.` wildcards, IPs, private suffixes, a category the school created, `removed` lines of either kind,
 * some of which name nothing) in real folders; every target's matches, in order, and every decision (with
 * exceptions beside the lists) are the same, and so are the counts shippedSize() reads. Then the same
 * after a further edit, with the snapshot read rather than rebuilt.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadCategories, shippedSize, type LoadOptions } from '../../../src/lists/load.js';
import { loadCategoriesImage } from '../../../src/lists/load-snapshot.js';
import { listsOfImage } from '../../../src/lists/local-overlay.js';
import { readLocalLayer } from '../../../src/lists/local-layer.js';
import type { ProviderLayer } from '../../../src/lists/provider-layer.js';
import { SNAPSHOT_FILE } from '../../../src/lists/snapshot-file.js';
import { decide } from '../../../src/policy/decide.js';
import { compileExceptions } from '../../../src/policy/exceptions.js';
import { parseAbsoluteTarget } from '../../../src/policy/target.js';
import type { CategoryLists } from '../../../src/policy/types.js';
import { fuzzParams } from '../../fuzz/fuzz.js';
import { tempDir } from '../../helpers/schoolgate.js';
import { ENDPOINTS, profile, request } from '../policy/factories.js';

const SHIPPED = ['social', 'adult', 'games'];
const label = fc.constantFrom('a', 'b', 'ab', 'x-y', 'example', 'Ex');
const domain = fc.array(label, { minLength: 2, maxLength: 3 }).map((l) => l.join('.'));
const host = fc.oneof(
  domain,
  domain,
  domain.map((d) => `*.${d}`),
  fc.constantFrom('10.0.0.1', '2001:db8::1', 'github.io', 'a.github.io'),
);
const urlPath = fc.constantFrom('', '/', '/a', '/A/b', '/dir?', '/watch?v=abc');
const entry = fc.record({ kind: fc.constantFrom('domains', 'domains', 'urls'), host, path: urlPath });
type Entry = { kind: string; host: string; path: string };
const layerOf = (lists: string[]) =>
  fc.array(fc.record({ list: fc.constantFrom(...lists), entry }), { maxLength: 25 });
type Layer = { list: string; entry: Entry }[];

const text = (e: Entry) => {
  const bare = e.host.replace(/^\*\./, '');
  return e.kind === 'urls' ? `${bare.includes(':') ? `[${bare}]` : bare}${e.path}` : e.host;
};
/** A `removed` line as `lists remove` writes it: a URL entry has a path, a domain entry none. */
const removedText = (e: Entry) =>
  e.kind === 'urls' && e.path !== '' ? text(e) : e.host.replace(/^\*\./, '');

function write(file: string, lines: string[]): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
}

function writeLayer(root: string, layer: Layer): void {
  for (const list of new Set(layer.map((l) => l.list)))
    for (const kind of ['domains', 'urls'])
      write(
        path.join(root, list, kind),
        layer.filter((l) => l.list === list && l.entry.kind === kind).map((l) => text(l.entry)),
      );
}

const yaml = (names: string[]) =>
  names.map((n) => `${n}:\n  title: ${n}\n  description: test\n  flagged: false\n  alert: false\n`).join('');

interface Folders {
  dir: string;
  dataDir: string;
  provider: ProviderLayer;
}

function folders(shipped: Layer, provider: Layer): Folders {
  const root = tempDir('sg-overlay-');
  const dir = path.join(root, 'categories');
  for (const name of SHIPPED) write(path.join(dir, name, 'domains'), []);
  writeFileSync(path.join(dir, 'categories.yaml'), yaml(SHIPPED));
  writeLayer(dir, shipped);
  const providerDir = path.join(root, 'provider');
  writeLayer(providerDir, provider);
  const dirs = [...new Set(provider.map((p) => p.list))].sort();
  return { dir, dataDir: path.join(root, 'data'), provider: { dir: providerDir, dirs, manifest: undefined } };
}

function writeLocal(dataDir: string, added: Layer, removed: Layer): void {
  const local = path.join(dataDir, 'categories.local');
  rmSync(local, { recursive: true, force: true });
  mkdirSync(local, { recursive: true });
  writeFileSync(path.join(local, 'categories.yaml'), yaml(['mine']));
  writeLayer(local, added);
  for (const list of new Set(removed.map((r) => r.list)))
    write(
      path.join(local, list, 'removed'),
      removed.filter((r) => r.list === list).map((r) => removedText(r.entry)),
    );
}

function targets(layers: Layer[]): string[] {
  const out = ['http://notlisted.example/'];
  for (const layer of layers)
    for (const { entry } of layer) {
      const bare = entry.host.replace(/^\*\./, '').toLowerCase();
      const at = bare.includes(':') ? `[${bare}]` : bare;
      for (const p of ['/', '/a', '/a/b/c', '/dir?x', '/watch?v=abc&t=1', '/watch?v=abcd']) {
        out.push(`http://${at}${p}`);
        if (!/^[\d.]+$/.test(bare) && !bare.includes(':')) out.push(`http://www.${at}${p}`);
      }
    }
  return out;
}

const NOW = new Date('2026-12-03T10:00:00Z');
const exceptions = compileExceptions([
  { id: 1, site: 'a.example', action: 'allow', scope: { kind: 'everyone' }, expiresAt: null },
  { id: 2, site: 'b.ab/a', action: 'block', scope: { kind: 'profile', name: 'pupil' }, expiresAt: null },
]);
const pupil = profile({ categories: { social: 'block', adult: 'block', games: 'warn', mine: 'block' } });

function sameAnswers(full: CategoryLists, layered: CategoryLists, urls: string[]): void {
  const withExceptions = (l: CategoryLists) => ({ ...l, match: l.match, exceptions });
  for (const url of urls) {
    const target = parseAbsoluteTarget(url);
    expect(layered.match(target), url).toEqual(full.match(target));
    expect(decide(request(url), pupil, withExceptions(layered), NOW), url).toEqual(
      decide(request(url), pupil, withExceptions(full), NOW),
    );
  }
}

async function compare(f: Folders, urls: string[]): Promise<string | undefined> {
  const opts: LoadOptions = { local: await readLocalLayer(f.dataDir), provider: f.provider };
  const full = await loadCategories(f.dir, opts);
  const loaded = await loadCategoriesImage(f.dir, {
    ...opts,
    snapshotDir: path.join(f.dataDir, 'lists-index'),
  });
  const layered = await listsOfImage(loaded.image, ENDPOINTS);
  sameAnswers(full.lists, layered, urls);
  expect([...layered.categories.keys()]).toEqual([...full.lists.categories.keys()]);
  for (const [name, c] of full.counts) {
    const o = loaded.counts.get(name)!;
    expect([shippedSize(o), o.local, o.layer], name).toEqual([shippedSize(c), c.local, c.layer]);
  }
  return loaded.snapshot;
}

describe('the local layer over the snapshot answers as a full rebuild', () => {
  it('on generated shipped, provider and local layers, before and after a further local edit', async () => {
    const lists = [...SHIPPED, 'mine'];
    await fc.assert(
      fc.asyncProperty(
        layerOf(SHIPPED),
        layerOf(SHIPPED),
        layerOf(lists),
        layerOf(SHIPPED),
        layerOf(lists),
        async (shipped, provider, added, extraRemoved, edit) => {
          const f = folders(shipped, provider);
          // Removed lines: mostly entries the big layers hold (as `lists remove` writes them), some not.
          const removed = [...shipped.slice(0, 8), ...provider.slice(0, 4), ...extraRemoved.slice(0, 3)];
          writeLocal(f.dataDir, added, removed);
          const urls = targets([shipped, provider, added, extraRemoved, edit]);
          expect(await compare(f, urls)).toBe('written');
          writeLocal(f.dataDir, [...added, ...edit], removed.slice(2));
          expect(await compare(f, urls)).toBe('read');
        },
      ),
      fuzzParams(60),
    );
  });
});

describe('a stale or damaged snapshot under a local layer', () => {
  const shipped: Layer = [
    { list: 'social', entry: { kind: 'domains', host: 'social.example', path: '' } },
    { list: 'adult', entry: { kind: 'domains', host: 'unlisted.example', path: '' } },
  ];
  const added: Layer = [{ list: 'games', entry: { kind: 'domains', host: 'added.example', path: '' } }];
  const urls = ['http://social.example/', 'http://unlisted.example/', 'http://www.added.example/'];

  it('damaged: ignored, rebuilt and named; the local layer still applies (never an open filter)', async () => {
    const f = folders(shipped, []);
    writeLocal(f.dataDir, added, [shipped[1]!]);
    expect(await compare(f, urls)).toBe('written');
    const file = path.join(f.dataDir, 'lists-index', SNAPSHOT_FILE);
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 50));
    const opts = { local: await readLocalLayer(f.dataDir), provider: f.provider };
    const loaded = await loadCategoriesImage(f.dir, { ...opts, snapshotDir: path.dirname(file) });
    expect(loaded.snapshot).toBe('written');
    expect(loaded.warnings.some((w) => /is damaged/.test(w))).toBe(true);
    const lists = await listsOfImage(loaded.image, ENDPOINTS);
    const listed = (url: string) => lists.match(parseAbsoluteTarget(url)).map((m) => m.list);
    expect(urls.map(listed)).toEqual([['social'], [], ['games']]);
    expect(await compare(f, urls)).toBe('read');
  });

  it('stale (a shipped file changed): rebuilt from the text, the local layer applied over the new one', async () => {
    const f = folders(shipped, []);
    writeLocal(f.dataDir, added, [shipped[1]!]);
    expect(await compare(f, urls)).toBe('written');
    writeFileSync(path.join(f.dir, 'social', 'domains'), 'other.example\n');
    expect(await compare(f, [...urls, 'http://other.example/'])).toBe('written');
  });
});
