/**
 * `schoolgate lists update`: fetch each configured source (lists.sources), check its published checksum,
 * unpack it safely, import the mapped folders into a new provider generation, compare it with the one in
 * force, then switch to it. Any failure (download, checksum, archive, a list file refused, a category that
 * would shrink past lists.maxShrinkShare without --force) throws before the switch: the generation in force
 * stays, and the half-built one and the download are deleted. The whole run holds the local layer's lock,
 * so two updates (or an update and a `lists` edit) never interleave.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ReadonlyConfig } from '../../config/load.js';
import { makePrivateDir } from '../../app/file-modes.js';
import { SchoolgateError } from '../../errors.js';
import { catalogue, type Dirs } from '../catalogue.js';
import { planTree } from '../import-tree.js';
import { importGroups } from '../import.js';
import { withLocalLock } from '../local-layer.js';
import {
  newGenerationName,
  providerRoot,
  readProviderLayer,
  switchGeneration,
  writeManifest,
  type ProviderSourceRecord,
} from '../provider-layer.js';
import { checksumFor, fileNameOf } from './checksum.js';
import type { ListSource } from './config.js';
import { categoryChange, type CategoryChange } from './diff.js';
import { fetchText, fetchToFile } from './fetch.js';
import { archiveError, unpackTarball } from './unpack.js';

const MIB = 1024 * 1024;
const MAX_CHECKSUM_FILE = MIB;

export interface FolderImport {
  source: string;
  folder: string;
  category: string;
  added: number;
  duplicate: number;
  invalid: number;
  expressions: number;
}

export interface FolderLeftOut {
  source: string;
  folder: string;
  reason: 'not-mapped' | 'not-in-tarball' | 'usage-white' | 'alias' | 'no-list-files' | 'bad-name';
}

export interface UpdateResult {
  generation: string;
  /** The generation it replaced (undefined on the first update, or a dry run). */
  previous: string | undefined;
  applied: boolean;
  sources: ProviderSourceRecord[];
  imported: FolderImport[];
  leftOut: FolderLeftOut[];
  /** Per category, the provider layer before and after. */
  changes: Record<string, CategoryChange>;
  /** Categories that shrank past lists.maxShrinkShare and were applied because of --force. */
  forcedShrink: string[];
}

export interface UpdateOptions {
  dryRun?: boolean;
  /** Apply a category that shrinks past lists.maxShrinkShare; import past the invalid-line limits. */
  force?: boolean;
  now?: Date;
}

export async function runUpdate(config: ReadonlyConfig, opts: UpdateOptions = {}): Promise<UpdateResult> {
  const dirs: Dirs = { categoriesDir: config.categoriesDir, dataDir: config.dataDir };
  return withLocalLock(config.dataDir, () => updateLocked(config, dirs, opts));
}

async function updateLocked(config: ReadonlyConfig, dirs: Dirs, opts: UpdateOptions): Promise<UpdateResult> {
  const sources = config.lists.sources as readonly ListSource[];
  await checkMaps(dirs, sources);
  const root = providerRoot(config.dataDir);
  makePrivateDir(root);
  // Left by an update that was killed (we hold the lock: no other update is running).
  for (const name of await readdir(root))
    if (name.startsWith('.update-')) await rm(path.join(root, name), { recursive: true, force: true });
  const before = await readProviderLayer(config.dataDir);
  const generation = newGenerationName(opts.now ?? new Date());
  const genDir = path.join(root, generation);
  const work = await mkdtemp(path.join(root, '.update-'));
  let switched = false;
  try {
    makePrivateDir(genDir);
    const result: UpdateResult = {
      generation,
      previous: undefined,
      applied: false,
      sources: [],
      imported: [],
      leftOut: [],
      changes: {},
      forcedShrink: [],
    };
    const filled: Record<string, string[]> = {};
    for (const source of sources) {
      const { record, tree } = await fetchSource(source, work, opts.now ?? new Date());
      result.sources.push(record);
      await importSource(dirs, config, source, tree, genDir, opts, result, filled);
      await rm(path.join(work, source.name), { recursive: true, force: true });
    }
    await writeManifest(genDir, { generation, sources: result.sources, categories: filled });
    const categories = new Set([...Object.keys(filled), ...(before?.dirs ?? [])]);
    for (const category of [...categories].sort())
      result.changes[category] = await categoryChange(before?.dir, genDir, category);
    result.forcedShrink = checkShrink(result.changes, config.lists.maxShrinkShare, opts.force ?? false);
    if (!opts.dryRun) {
      result.previous = await switchGeneration(config.dataDir, generation);
      switched = true;
      result.applied = true;
    }
    return result;
  } finally {
    await rm(work, { recursive: true, force: true });
    if (!switched) await rm(genDir, { recursive: true, force: true });
  }
}

/** Every map names a category that exists: checked before anything is downloaded. */
async function checkMaps(dirs: Dirs, sources: readonly ListSource[]): Promise<void> {
  const known = await catalogue(dirs);
  for (const source of sources)
    for (const [folder, category] of Object.entries(source.map))
      if (!known.has(category))
        throw new SchoolgateError(
          'SG_CATEGORY_UNKNOWN',
          `lists.sources ${source.name}: ${folder} is mapped to "${category}", which is no category`,
          {
            context: { source: source.name, folder, category },
            suggestion: `map it to one of ${[...known.keys()].sort().join(', ')}, or create the category with \`schoolgate lists new\``,
          },
        );
}

/** Checksum file, tarball (hashed as it arrives), comparison, unpacking; the folder of category folders. */
async function fetchSource(
  source: ListSource,
  work: string,
  now: Date,
): Promise<{ record: ProviderSourceRecord; tree: string }> {
  const fetchOpts = { ca: source.ca };
  const sums = await fetchText(source.checksumUrl, { ...fetchOpts, maxBytes: MAX_CHECKSUM_FILE });
  const fileName = fileNameOf(source.url);
  const published = checksumFor(sums, fileName);
  if (!published)
    throw new SchoolgateError(
      'SG_LIST_CHECKSUM_MISMATCH',
      `${source.checksumUrl} has no checksum line for ${fileName}`,
      {
        context: { source: source.name, checksumUrl: source.checksumUrl, file: fileName },
        suggestion: 'check url and checksumUrl in lists.sources name the same file; the lists in force stay',
      },
    );
  const tarball = path.join(work, `${source.name}.tar.gz`);
  const got = await fetchToFile(source.url, tarball, published.algorithm, {
    ...fetchOpts,
    maxBytes: Math.floor(source.maxDownloadMB * MIB),
  });
  if (got.digest !== published.hex)
    throw new SchoolgateError(
      'SG_LIST_CHECKSUM_MISMATCH',
      `${source.url}: ${published.algorithm} ${got.digest} is not the published ${published.hex}`,
      {
        context: { source: source.name, url: source.url, expected: published.hex, got: got.digest },
        suggestion:
          'nothing was imported and the lists in force stay; run the update again later (a download during the source’s daily rebuild can meet a newer checksum)',
      },
    );
  const unpacked = path.join(work, source.name);
  makePrivateDir(unpacked);
  await unpackTarball(tarball, unpacked, {
    maxBytes: Math.floor(source.maxUnpackedMB * MIB),
    shownAs: source.url,
  });
  await rm(tarball, { force: true });
  return {
    record: {
      name: source.name,
      url: source.url,
      checksumUrl: source.checksumUrl,
      algorithm: published.algorithm,
      checksum: published.hex,
      bytes: got.bytes,
      fetchedAt: now.toISOString(),
    },
    tree: await treeRoot(unpacked, source),
  };
}

/** `root` inside the unpacked tarball, or its one top-level folder. */
async function treeRoot(unpacked: string, source: ListSource): Promise<string> {
  if (source.root !== null) {
    const dir = path.resolve(unpacked, source.root);
    const inside = dir.startsWith(unpacked + path.sep);
    if (!inside || !(await stat(dir).catch(() => undefined))?.isDirectory())
      throw archiveError(source.url, `no folder "${source.root}" (lists.sources ${source.name} root) in it`);
    return dir;
  }
  const top = (await readdir(unpacked, { withFileTypes: true })).filter((e) => e.isDirectory());
  return top.length === 1 ? path.join(unpacked, top[0]!.name) : unpacked;
}

async function importSource(
  dirs: Dirs,
  config: ReadonlyConfig,
  source: ListSource,
  tree: string,
  genDir: string,
  opts: UpdateOptions,
  result: UpdateResult,
  filled: Record<string, string[]>,
): Promise<void> {
  const plan = await planTree(tree);
  const planned = new Set(plan.categories.map((c) => c.name));
  for (const n of plan.notImported)
    if (n.name in source.map) result.leftOut.push({ source: source.name, folder: n.name, reason: n.reason });
  for (const folder of Object.keys(source.map))
    if (!planned.has(folder) && !plan.notImported.some((n) => n.name === folder))
      result.leftOut.push({ source: source.name, folder, reason: 'not-in-tarball' });
  for (const cat of plan.categories) {
    const category = source.map[cat.name];
    if (category === undefined) {
      result.leftOut.push({ source: source.name, folder: cat.name, reason: 'not-mapped' });
      continue;
    }
    // A list file refused here (not text, too many invalid lines) throws: the update stops, nothing switches.
    const summary = await importGroups(dirs, category, cat.groups, {
      format: 'squidguard',
      into: genDir,
      limits: config.lists,
      ...(opts.force ? { force: true } : {}),
    });
    result.imported.push({
      source: source.name,
      folder: cat.name,
      category,
      added: summary.added,
      duplicate: summary.duplicate,
      invalid: summary.invalid,
      expressions: summary.expressions,
    });
    (filled[category] ??= []).push(`${source.name}:${cat.name}`);
  }
}

/** SG_CATEGORY_SHRANK for a category the update would shrink past maxShare, unless forced. */
function checkShrink(changes: Record<string, CategoryChange>, maxShare: number, force: boolean): string[] {
  const shrunk = Object.entries(changes).filter(
    ([, c]) => c.before > 0 && (c.before - c.after) / c.before > maxShare,
  );
  if (shrunk.length === 0 || force) return shrunk.map(([name]) => name);
  const each = shrunk.map(([name, c]) => `${name} from ${c.before} to ${c.after} provider entries`);
  throw new SchoolgateError(
    'SG_CATEGORY_SHRANK',
    `the update would shrink ${each.join(', ')}: more than lists.maxShrinkShare ${Math.round(maxShare * 100)}%`,
    {
      context: { categories: Object.fromEntries(shrunk), maxShrinkShare: maxShare },
      suggestion:
        'nothing was changed; check the source (a partial upstream build), and if the change is real run `schoolgate lists update --force`',
    },
  );
}
