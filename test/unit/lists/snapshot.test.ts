/**
 * The list-index snapshot (src/lists/snapshot-file.ts, load-snapshot.ts): an index read back from its
 * snapshot answers every target as the index built from the text did; a list edit (even one that keeps the
 * file's size and mtime) makes the next load rebuild; a damaged, truncated or forged file is ignored,
 * rebuilt and reported; the file is 0600 in a 0700 folder. Real files in a temporary folder.
 */
import { appendFileSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadCategories, type LoadOptions } from '../../../src/lists/load.js';
import { loadCategoriesImage } from '../../../src/lists/load-snapshot.js';
import { readLocalLayer } from '../../../src/lists/local-layer.js';
import { listsOfImage } from '../../../src/lists/local-overlay.js';
import { addEntries, removeEntries } from '../../../src/lists/edit.js';
import { entryOf } from '../../../src/lists/entry.js';
import {
  decodeSnapshot,
  encodeSnapshot,
  SNAPSHOT_FILE,
  writeSnapshot,
} from '../../../src/lists/snapshot-file.js';
import { compileEndpoints } from '../../../src/policy/endpoints.js';
import { parseEntry } from '../../../src/policy/entries.js';
import { CategoryListsBuilder } from '../../../src/policy/lists.js';
import { parseAbsoluteTarget } from '../../../src/policy/target.js';
import type { CategoryLists } from '../../../src/policy/types.js';
import { fuzzParams } from '../../fuzz/fuzz.js';
import { tempDir } from '../../helpers/schoolgate.js';

const CATEGORIES = ['red', 'green', 'blue'];
const meta = (name: string) => ({ name, title: name, description: 'test', flagged: false, alert: false });

const label = fc.constantFrom('a', 'b', 'ab', 'x-y', 'com', 'example', '0a', 'xn--bcher-kva');
const domain = fc.array(label, { minLength: 2, maxLength: 4 }).map((l) => l.join('.'));
const host = fc.oneof(domain, domain, fc.constantFrom('10.0.0.1', '2001:db8::1', 'github.io', 'a.github.io'));
const urlPath = fc.constantFrom('', '/', '/a', '/A/b', '/dir?', '/watch?v=abc', '/d/x&y=1');
const line = fc.record({
  list: fc.constantFrom(...CATEGORIES),
  kind: fc.constantFrom('domains', 'domains', 'urls'),
  host,
  path: urlPath,
});
type Line = { list: string; kind: string; host: string; path: string };

const text = (l: Line) =>
  l.kind === 'urls' ? `${l.host.includes(':') ? `[${l.host}]` : l.host}${l.path}` : l.host;
const endpoints = compileEndpoints([]);

function builderOf(lines: Line[]): CategoryListsBuilder {
  const builder = new CategoryListsBuilder();
  for (const name of CATEGORIES) builder.addCategory(meta(name));
  for (const l of lines)
    if (l.kind === 'urls') builder.addUrlLine(l.list, text(l));
    else builder.addDomainLine(l.list, l.host);
  builder.addExpressionLine('blue', '^https?://[^/]*bad[.]');
  return builder;
}

function targetsOf(hosts: string[], paths: string[]): string[] {
  const out: string[] = ['http://bad.example/', 'http://notlisted.example/'];
  for (const h of hosts) {
    const at = h.includes(':') ? `[${h}]` : h;
    for (const p of paths) out.push(`http://${at}${p || '/'}`, `http://www.${at}${p || '/'}`);
  }
  // No `www.` before an IP address (not a host name).
  return out.filter((u) => !/^http:\/\/www\.(\[|\d+\.\d+\.\d+\.\d+[/:])/.test(u));
}

function sameAnswers(a: CategoryLists, b: CategoryLists, urls: string[]): void {
  for (const url of urls) {
    const target = parseAbsoluteTarget(url);
    expect(b.match(target), url).toEqual(a.match(target));
  }
}

/** A categories folder with these lines, and the data folder beside it. */
function listFolder(lines: string[] = ['listed.example', 'other.example']): {
  dir: string;
  dataDir: string;
  domains: string;
} {
  const root = tempDir('sg-snapshot-');
  const dir = path.join(root, 'categories');
  mkdirSync(path.join(dir, 'red'), { recursive: true });
  writeFileSync(
    path.join(dir, 'categories.yaml'),
    'red:\n  title: Red\n  description: test\n  flagged: false\n  alert: false\n',
  );
  const domains = path.join(dir, 'red', 'domains');
  writeFileSync(domains, `${lines.join('\n')}\n`);
  return { dir, dataDir: path.join(root, 'data'), domains };
}

async function optionsOf(dataDir: string): Promise<LoadOptions> {
  return { local: await readLocalLayer(dataDir), snapshotDir: path.join(dataDir, 'lists-index') };
}

async function listsVia(dir: string, opts: LoadOptions) {
  const loaded = await loadCategoriesImage(dir, opts);
  return { ...loaded, lists: await listsOfImage(loaded.image, endpoints) };
}

const listed = (lists: CategoryLists, host: string) =>
  lists.match(parseAbsoluteTarget(`http://${host}/`)).map((m) => m.list);

describe('a list index read back from its snapshot', () => {
  it('answers every target as the index built from the text (generated entries)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 60 }),
        fc.array(host, { maxLength: 8 }),
        async (lines, extra) => {
          const key = new Uint8Array(32).fill(7);
          const direct = builderOf(lines).build(endpoints);
          const image = builderOf(lines).image();
          const bytes = encodeSnapshot(key, { image, counts: new Map(), warnings: [] });
          const read = decodeSnapshot(bytes, key);
          if (read.state !== 'used') throw new Error(`snapshot ${read.state}`);
          const restored = (await CategoryListsBuilder.adopt(read.content.image)).build(endpoints);
          const paths = ['', '/a', '/a/b/c', '/dir?x', '/watch?v=abc&t=1', '/watch?v=abcd', '/d/x&y=1'];
          sameAnswers(direct, restored, targetsOf([...lines.map((l) => l.host), ...extra], paths));
        },
      ),
      fuzzParams(150),
    );
  });

  it('is written on the first load and read on the next, with the same counts and answers', async () => {
    const { dir, dataDir } = listFolder(['listed.example', 'not a domain', '10.1.2.3']);
    appendFileSync(path.join(dir, 'red', 'domains'), 'sub.listed.example\n');
    const fromText = await loadCategories(dir, { local: await readLocalLayer(dataDir) });
    const first = await listsVia(dir, await optionsOf(dataDir));
    const second = await listsVia(dir, await optionsOf(dataDir));
    expect([first.snapshot, second.snapshot]).toEqual(['written', 'read']);
    expect(second.counts).toEqual(fromText.counts);
    expect(second.warnings).toEqual(fromText.warnings);
    const urls = [
      'http://listed.example/',
      'http://a.sub.listed.example/x',
      'http://10.1.2.3/',
      'http://no.example/',
    ];
    sameAnswers(fromText.lists, second.lists, urls);
    expect(listed(second.lists, 'www.listed.example')).toEqual(['red']);
  });

  it('is owner-only: the file 0600 in a 0700 folder of the data directory', async () => {
    const { dir, dataDir } = listFolder();
    await listsVia(dir, await optionsOf(dataDir));
    const folder = path.join(dataDir, 'lists-index');
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(folder, SNAPSHOT_FILE)).mode & 0o777).toBe(0o600);
  });
});

describe('a list edit invalidates the snapshot', () => {
  it('`lists add` / `lists remove` (the local layer) do not: the snapshot is read, the edit applied over it', async () => {
    const { dir, dataDir } = listFolder();
    expect((await listsVia(dir, await optionsOf(dataDir))).snapshot).toBe('written');
    const file = path.join(dataDir, 'lists-index', SNAPSHOT_FILE);
    const before = readFileSync(file);
    await addEntries({ categoriesDir: dir, dataDir }, 'red', [entryOf(parseEntry('added.example'))!]);
    await removeEntries({ categoriesDir: dir, dataDir }, 'red', [entryOf(parseEntry('listed.example'))!]);
    const after = await listsVia(dir, await optionsOf(dataDir));
    expect(after.snapshot).toBe('read');
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(listed(after.lists, 'added.example')).toEqual(['red']);
    expect(listed(after.lists, 'www.listed.example')).toEqual([]);
    expect(listed(after.lists, 'other.example')).toEqual(['red']);
    expect(after.counts.get('red')).toMatchObject({ domains: 2, removed: 1, local: { domains: 1, urls: 0 } });
  });

  it('an edit that keeps the size and the mtime of the file still rebuilds (the content is hashed)', async () => {
    const { dir, dataDir, domains } = listFolder(['aaaa.example', 'listed.example']);
    await listsVia(dir, await optionsOf(dataDir));
    const { atime, mtime, size } = statSync(domains);
    writeFileSync(domains, readFileSync(domains, 'utf8').replace('aaaa.example', 'bbbb.example'));
    utimesSync(domains, atime, mtime);
    expect(statSync(domains).size).toBe(size);
    // As a clock of whole milliseconds (or coarser) sees it: the same mtime.
    expect(Math.abs(statSync(domains).mtimeMs - mtime.getTime())).toBeLessThan(1);
    const after = await listsVia(dir, await optionsOf(dataDir));
    expect(after.snapshot).toBe('written');
    expect(listed(after.lists, 'bbbb.example')).toEqual(['red']);
    expect(listed(after.lists, 'aaaa.example')).toEqual([]);
  });

  it('other load options (the invalid-line limits) are part of the key', async () => {
    const { dir, dataDir } = listFolder();
    await listsVia(dir, await optionsOf(dataDir));
    const limits = { maxInvalidLines: 3, maxInvalidShare: 0.5 };
    expect((await listsVia(dir, { ...(await optionsOf(dataDir)), limits })).snapshot).toBe('written');
  });
});

function flip(bytes: Buffer, at: number): Buffer {
  bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
  return bytes;
}

describe('a damaged snapshot', () => {
  const damages: [string, (bytes: Buffer) => Buffer][] = [
    ['a byte flipped in its tables', (b) => flip(b, 200)],
    ['a byte flipped in its JSON', (b) => flip(b, b.length - 10)],
    ['truncated', (b) => b.subarray(0, Math.floor(b.length / 2))],
    ['shorter than its header', (b) => b.subarray(0, 40)],
    ['replaced by text', () => Buffer.from('not a snapshot at all\n')],
    ['empty', () => Buffer.alloc(0)],
  ];
  for (const [what, damage] of damages)
    it(`${what}: ignored, rebuilt and reported; the same answers`, async () => {
      const { dir, dataDir } = listFolder([
        'listed.example',
        ...Array.from({ length: 50 }, (_, i) => `s${i}.example`),
      ]);
      const good = await listsVia(dir, await optionsOf(dataDir));
      const file = path.join(dataDir, 'lists-index', SNAPSHOT_FILE);
      writeFileSync(file, damage(readFileSync(file)));
      const rebuilt = await listsVia(dir, await optionsOf(dataDir));
      expect(rebuilt.snapshot).toBe('written');
      expect(rebuilt.warnings[0]).toMatch(/lists index snapshot .* is damaged \(.+\): ignored, rebuilt/);
      sameAnswers(good.lists, rebuilt.lists, [
        'http://listed.example/',
        'http://s7.example/',
        'http://x.example/',
      ]);
      // The rebuilt snapshot is whole again, and its warnings do not repeat the damage.
      const again = await listsVia(dir, await optionsOf(dataDir));
      expect(again.snapshot).toBe('read');
      expect(again.warnings).toEqual([]);
    });

  it('forged with a good checksum but tables a lookup would run off: ignored as inconsistent', async () => {
    const { dir, dataDir } = listFolder();
    const opts = await optionsOf(dataDir);
    await listsVia(dir, opts);
    const file = path.join(opts.snapshotDir!, SNAPSHOT_FILE);
    const bytes = new Uint8Array(readFileSync(file));
    const key = bytes.slice(24, 56);
    const read = decodeSnapshot(bytes, key);
    if (read.state !== 'used') throw new Error(read.state);
    // Every slot "occupied": a probe for a missing host would never end.
    read.content.image.index.domains.tags.fill(9);
    writeSnapshot(opts.snapshotDir!, encodeSnapshot(key, read.content));
    const rebuilt = await listsVia(dir, await optionsOf(dataDir));
    expect(rebuilt.warnings[0]).toMatch(/damaged \(its content is inconsistent \(host table/);
    expect(listed(rebuilt.lists, 'listed.example')).toEqual(['red']);
    expect(listed(rebuilt.lists, 'missing.example')).toEqual([]);
  });
});
