/**
 * Which categories exist and in which layer, and the entries of one category layer by layer — what the
 * `lists` commands read. Shipped metadata comes from categories.yaml in the categories directory, local
 * metadata from the local layer (local-layer.ts).
 */
import path from 'node:path';
import { SchoolgateError } from '../errors.js';
import type { CategoryMeta } from '../policy/types.js';
import { domainLineKey, entryOf, urlLineKey, type EntryKind } from './entry.js';
import { parseDomainLine, parseEntry, parseUrlLine } from '../policy/entries.js';
import { localFile, localMetaFile, readTextIfExists } from './local-layer.js';
import { METADATA_FILE } from './load.js';
import { parseCategoriesYaml } from './metadata.js';
import { readProviderLayer } from './provider-layer.js';
import { forEachLine } from './read-lines.js';
import { readdir, stat } from 'node:fs/promises';

/** provider: entries `lists update` fetched (provider-layer.ts), between shipped and local. */
export type Layer = 'shipped' | 'provider' | 'local';

export interface CatalogueEntry {
  meta: CategoryMeta;
  layer: Layer;
}

export interface Dirs {
  categoriesDir: string;
  dataDir: string;
}

/** Every category, shipped first then local, by name. */
export async function catalogue(dirs: Dirs): Promise<Map<string, CatalogueEntry>> {
  const out = new Map<string, CatalogueEntry>();
  const shippedFile = path.join(dirs.categoriesDir, METADATA_FILE);
  const shippedText = await readTextIfExists(shippedFile);
  if (shippedText !== undefined)
    for (const meta of parseCategoriesYaml(shippedText, shippedFile).meta)
      out.set(meta.name, { meta, layer: 'shipped' });
  const localText = await readTextIfExists(localMetaFile(dirs.dataDir));
  if (localText !== undefined)
    for (const meta of parseCategoriesYaml(localText, localMetaFile(dirs.dataDir)).meta)
      if (!out.has(meta.name)) out.set(meta.name, { meta, layer: 'local' });
  return out;
}

export async function requireCategory(dirs: Dirs, name: string): Promise<CatalogueEntry> {
  const all = await catalogue(dirs);
  const found = all.get(name);
  if (!found)
    throw new SchoolgateError('SG_CATEGORY_UNKNOWN', `no category named "${name}"`, {
      context: { category: name },
      suggestion: `use one of: ${[...all.keys()].sort().join(', ')} — or create it with \`schoolgate lists new ${name} --title ...\``,
    });
  return found;
}

/** One entry of a category with where it comes from. `removed`: a shipped entry the local layer un-lists. */
export interface LayeredEntry {
  layer: Layer;
  kind: EntryKind;
  entry: string;
  removed: boolean;
}

/** The shipped files of a category: `<base>` or its split chunks `<base>.0`, `<base>.1`, ... */
export async function shippedFiles(
  dirs: Dirs,
  category: string,
  base: 'domains' | 'urls',
): Promise<string[]> {
  const catDir = path.join(dirs.categoriesDir, category);
  const single = path.join(catDir, base);
  if (await isFile(single)) return [single];
  const names = await readdir(catDir).catch(() => [] as string[]);
  return names
    .map((n) => ({ n, m: new RegExp(`^${base}\\.(\\d+)$`).exec(n) }))
    .filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null)
    .sort((a, b) => Number(a.m[1]) - Number(b.m[1]))
    .map((x) => path.join(catDir, x.n));
}

/** Streams every entry of a category, shipped layer first, each normalised, with its layer. */
export async function forEachEntry(
  dirs: Dirs,
  category: string,
  layer: Layer,
  onEntry: (e: LayeredEntry) => void,
): Promise<void> {
  const removed = new Set<string>();
  const removedFile = localFile(dirs.dataDir, category, 'removed');
  if (await isFile(removedFile))
    await forEachLine([removedFile], (line) => {
      const key = entryOf(parseEntry(line))?.key;
      if (key) removed.add(key);
    });
  if (layer === 'shipped') {
    for (const kind of ['domains', 'urls'] as const) {
      const parse = kind === 'domains' ? parseDomainLine : parseUrlLine;
      await forEachLine(await shippedFiles(dirs, category, kind), (line) => {
        const e = entryOf(parse(line));
        if (e) onEntry({ layer: 'shipped', kind: e.kind, entry: e.text, removed: removed.has(e.key) });
      });
    }
  }
  for (const kind of ['domains', 'urls'] as const) {
    const file = localFile(dirs.dataDir, category, kind);
    if (!(await isFile(file))) continue;
    const parse = kind === 'domains' ? parseDomainLine : parseUrlLine;
    await forEachLine([file], (line) => {
      const e = entryOf(parse(line));
      if (e) onEntry({ layer: 'local', kind: e.kind, entry: e.text, removed: false });
    });
  }
}

/** Keys of a category's entries in one layer: shipped files, or the local domains/urls files. */
export async function layerKeys(dirs: Dirs, category: string, layer: Layer): Promise<Set<string>> {
  const keys = new Set<string>();
  const files =
    layer === 'shipped'
      ? {
          domains: await shippedFiles(dirs, category, 'domains'),
          urls: await shippedFiles(dirs, category, 'urls'),
        }
      : {
          domains: [localFile(dirs.dataDir, category, 'domains')],
          urls: [localFile(dirs.dataDir, category, 'urls')],
        };
  for (const kind of ['domains', 'urls'] as const) {
    const present: string[] = [];
    for (const f of files[kind]) if (await isFile(f)) present.push(f);
    const keyOf = kind === 'domains' ? domainLineKey : urlLineKey;
    await forEachLine(present, (line) => {
      const key = keyOf(line);
      if (key) keys.add(key);
    });
  }
  return keys;
}

export async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * Which of `wanted` (entry keys) the provider layer holds for a category, streaming its files: a provider
 * category can hold millions of entries, too many to gather into a set for one `lists remove`.
 */
export async function providerHolds(
  dirs: Dirs,
  category: string,
  wanted: ReadonlySet<string>,
): Promise<Set<string>> {
  const found = new Set<string>();
  const provider = await readProviderLayer(dirs.dataDir);
  if (!provider?.dirs.includes(category) || wanted.size === 0) return found;
  const layerDirs = { categoriesDir: provider.dir, dataDir: dirs.dataDir };
  for (const kind of ['domains', 'urls'] as const) {
    const keyOf = kind === 'domains' ? domainLineKey : urlLineKey;
    await forEachLine(await shippedFiles(layerDirs, category, kind), (line) => {
      const key = keyOf(line);
      if (key !== undefined && wanted.has(key)) found.add(key);
    });
  }
  return found;
}
