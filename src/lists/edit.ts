/**
 * Changes to the local layer: add and remove entries, create and delete local categories. Each file is
 * rewritten atomically (local-layer.ts writeAtomic), comments and unrelated lines are kept, and an entry
 * is never written twice. The functions return what changed, for the CLI to print and record.
 */
import { parseDocument } from 'yaml';
import { SchoolgateError } from '../errors.js';
import type { CategoryMeta } from '../policy/types.js';
import { catalogue, layerKeys, providerHolds, requireCategory, type Dirs, type Layer } from './catalogue.js';
import { anyLineKey, domainLineKey, urlLineKey, type ListEntry } from './entry.js';
import { checkCategoryName, RESERVED_CATEGORY_NAMES } from './metadata.js';
import {
  localFile,
  localMetaFile,
  readLines,
  readTextIfExists,
  removeLocalCategoryDir,
  withLocalLock,
  writeAtomic,
  writeLines,
} from './local-layer.js';

export type AddOutcome =
  | 'added' // written to the local layer
  | 'relisted' // a shipped entry the local layer had removed: taken out of `removed`
  | 'duplicate'; // already listed (see layer)

export type RemoveOutcome =
  | 'removed' // a local entry: deleted from the local file
  | 'unlisted' // a shipped entry: written to the local `removed` file
  | 'not-listed';

export interface EntryResult<O> {
  entry: string;
  outcome: O;
  layer: Layer | null;
}

export function addEntries(
  dirs: Dirs,
  category: string,
  entries: readonly ListEntry[],
): Promise<EntryResult<AddOutcome>[]> {
  return withLocalLock(dirs.dataDir, () => addLocked(dirs, category, entries));
}

async function addLocked(
  dirs: Dirs,
  category: string,
  entries: readonly ListEntry[],
): Promise<EntryResult<AddOutcome>[]> {
  await requireCategory(dirs, category);
  const shipped = await layerKeys(dirs, category, 'shipped');
  const files = await localFiles(dirs, category);
  const results: EntryResult<AddOutcome>[] = [];
  for (const e of entries) {
    if (files.removedKeys.has(e.key)) {
      files.removed = files.removed.filter((l) => anyLineKey(l) !== e.key);
      files.removedKeys.delete(e.key);
      results.push({ entry: e.text, outcome: 'relisted', layer: 'shipped' });
    } else if (files.localKeys.has(e.key)) {
      results.push({ entry: e.text, outcome: 'duplicate', layer: 'local' });
    } else if (shipped.has(e.key)) {
      results.push({ entry: e.text, outcome: 'duplicate', layer: 'shipped' });
    } else {
      (e.kind === 'domain' ? files.domains : files.urls).push(e.text);
      files.localKeys.add(e.key);
      results.push({ entry: e.text, outcome: 'added', layer: 'local' });
    }
  }
  await files.save();
  return results;
}

export function removeEntries(
  dirs: Dirs,
  category: string,
  entries: readonly ListEntry[],
): Promise<EntryResult<RemoveOutcome>[]> {
  return withLocalLock(dirs.dataDir, () => removeLocked(dirs, category, entries));
}

async function removeLocked(
  dirs: Dirs,
  category: string,
  entries: readonly ListEntry[],
): Promise<EntryResult<RemoveOutcome>[]> {
  await requireCategory(dirs, category);
  const shipped = await layerKeys(dirs, category, 'shipped');
  const provider = await providerHolds(dirs, category, new Set(entries.map((e) => e.key)));
  const files = await localFiles(dirs, category);
  const results: EntryResult<RemoveOutcome>[] = [];
  for (const e of entries) {
    let outcome: RemoveOutcome = 'not-listed';
    let layer: Layer | null = null;
    if (files.localKeys.has(e.key)) {
      const keyOf = e.kind === 'domain' ? domainLineKey : urlLineKey;
      if (e.kind === 'domain') files.domains = files.domains.filter((l) => keyOf(l) !== e.key);
      else files.urls = files.urls.filter((l) => keyOf(l) !== e.key);
      files.localKeys.delete(e.key);
      outcome = 'removed';
      layer = 'local';
    }
    // The local `removed` file un-lists a shipped or a provider entry alike (load.ts).
    const under = shipped.has(e.key) ? 'shipped' : provider.has(e.key) ? 'provider' : undefined;
    if (under && !files.removedKeys.has(e.key)) {
      files.removed.push(e.text);
      files.removedKeys.add(e.key);
      outcome = 'unlisted';
      layer = under;
    }
    results.push({ entry: e.text, outcome, layer });
  }
  await files.save();
  return results;
}

/** The local files of a category as lines (comments kept), with the keys they hold. */
async function localFiles(dirs: Dirs, category: string) {
  const paths = {
    domains: localFile(dirs.dataDir, category, 'domains'),
    urls: localFile(dirs.dataDir, category, 'urls'),
    removed: localFile(dirs.dataDir, category, 'removed'),
  };
  const original = {
    domains: await readLines(paths.domains),
    urls: await readLines(paths.urls),
    removed: await readLines(paths.removed),
  };
  const localKeys = new Set<string>();
  for (const l of original.domains) addKey(localKeys, domainLineKey(l));
  for (const l of original.urls) addKey(localKeys, urlLineKey(l));
  const removedKeys = new Set<string>();
  for (const l of original.removed) addKey(removedKeys, anyLineKey(l));
  const files = {
    domains: [...original.domains],
    urls: [...original.urls],
    removed: [...original.removed],
    localKeys,
    removedKeys,
    async save() {
      for (const name of ['domains', 'urls', 'removed'] as const) {
        const now = files[name];
        const before = original[name];
        if (now.length !== before.length || now.some((l, i) => l !== before[i]))
          await writeLines(paths[name], now);
      }
    },
  };
  return files;
}

function addKey(set: Set<string>, key: string | undefined): void {
  if (key !== undefined) set.add(key);
}

/** Creates a local category: its metadata in the local categories.yaml (comments kept). */
export function newCategory(dirs: Dirs, meta: CategoryMeta): Promise<void> {
  return withLocalLock(dirs.dataDir, () => newLocked(dirs, meta));
}

async function newLocked(dirs: Dirs, meta: CategoryMeta): Promise<void> {
  checkCategoryName(meta.name);
  const all = await catalogue(dirs);
  const existing = all.get(meta.name);
  if (existing)
    throw new SchoolgateError(
      'SG_CATEGORY_EXISTS',
      `category "${meta.name}" already exists (${existing.layer})`,
      {
        context: { category: meta.name, layer: existing.layer },
        suggestion: `add entries to it with \`schoolgate lists add ${meta.name} <domain>\`, or choose another name`,
      },
    );
  const file = localMetaFile(dirs.dataDir);
  const doc = parseDocument(
    (await readTextIfExists(file)) ?? '# Categories this school created (schoolgate lists new).\n',
  );
  const { name, ...fields } = meta;
  doc.set(name, fields);
  await writeAtomic(file, doc.toString());
}

/** Deletes a local category: its metadata and its local files. Shipped categories cannot be deleted. */
export function deleteCategory(dirs: Dirs, name: string): Promise<CategoryMeta> {
  return withLocalLock(dirs.dataDir, () => deleteLocked(dirs, name));
}

async function deleteLocked(dirs: Dirs, name: string): Promise<CategoryMeta> {
  const found = await requireCategory(dirs, name);
  if (found.layer === 'shipped')
    throw new SchoolgateError(
      'SG_ARGUMENT_INVALID',
      `"${name}" is a shipped category and cannot be deleted`,
      {
        context: { category: name },
        suggestion: `set its action to allow in the profiles instead, or un-list entries with \`schoolgate lists remove ${name} ...\``,
      },
    );
  const file = localMetaFile(dirs.dataDir);
  const doc = parseDocument((await readTextIfExists(file)) ?? '');
  doc.delete(name);
  await writeAtomic(file, doc.toString());
  // A reserved name (made before names were checked) shares its folder with something else, such as
  // every profile's exceptions under categories.local/profiles/: drop the metadata, keep the folder.
  if (!RESERVED_CATEGORY_NAMES.has(name.toLowerCase())) await removeLocalCategoryDir(dirs.dataDir, name);
  return found.meta;
}
