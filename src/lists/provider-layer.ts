/**
 * The provider layer: category entries fetched by `schoolgate lists update` from public sources (UT1 by
 * default), loaded between the shipped lists and the school's local layer (shipped < provider < local: the
 * local `removed` file un-lists a provider entry as it does a shipped one, and local additions stay).
 *
 *   <dataDir>/categories.provider/current              symlink to the generation in force
 *   <dataDir>/categories.provider/<generation>/<category>/{domains,urls,expressions}
 *   <dataDir>/categories.provider/<generation>/provider.json   where it came from (manifest below)
 *
 * An update writes a whole new generation beside the one in force and switches `current` by renaming a new
 * symlink over it (atomic: a reload reads the old generation or the new one, never a mix). The generation
 * before stays on disk until the next update, so a load that started just before the switch can finish.
 */
import { readdir, readFile, readlink, realpath, rename, rm, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CATEGORY_NAME } from './metadata.js';
import { writeAtomic } from './local-layer.js';

export const PROVIDER_DIR = 'categories.provider';
export const MANIFEST_FILE = 'provider.json';
const CURRENT = 'current';

export interface ProviderSourceRecord {
  name: string;
  url: string;
  checksumUrl: string;
  algorithm: string;
  checksum: string;
  bytes: number;
  fetchedAt: string;
}

export interface ProviderManifest {
  generation: string;
  sources: ProviderSourceRecord[];
  /** category → the source folders it was filled from (`ut1:audio-video`). */
  categories: Record<string, string[]>;
}

export interface ProviderLayer {
  /** The generation folder in force (symlink resolved once, so a load reads one generation). */
  dir: string;
  /** Category folders present in it. */
  dirs: string[];
  manifest: ProviderManifest | undefined;
}

export function providerRoot(dataDir: string): string {
  return path.join(dataDir, PROVIDER_DIR);
}

/** The provider layer in force, or undefined when `lists update` never ran. */
export async function readProviderLayer(dataDir: string): Promise<ProviderLayer | undefined> {
  const dir = await realpath(path.join(providerRoot(dataDir), CURRENT)).catch(() => undefined);
  if (dir === undefined) return undefined;
  const names = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const dirs = names.filter((e) => e.isDirectory() && CATEGORY_NAME.test(e.name)).map((e) => e.name);
  const manifestText = await readFile(path.join(dir, MANIFEST_FILE), 'utf8').catch(() => undefined);
  const manifest = manifestText === undefined ? undefined : (JSON.parse(manifestText) as ProviderManifest);
  return { dir, dirs: dirs.sort(), manifest };
}

/** A new, empty generation folder name (time-ordered, so the folder listing reads oldest first). */
export function newGenerationName(now: Date): string {
  return `gen-${now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
}

export async function writeManifest(genDir: string, manifest: ProviderManifest): Promise<void> {
  await writeAtomic(path.join(genDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * Puts `generation` in force: a fresh symlink renamed over `current`, then every generation but this one
 * and the one it replaced is deleted. Returns the replaced generation's folder name, if any.
 */
export async function switchGeneration(dataDir: string, generation: string): Promise<string | undefined> {
  const root = providerRoot(dataDir);
  const link = path.join(root, CURRENT);
  const before = await readlink(link).catch(() => undefined);
  const tmp = path.join(root, `.current-${randomBytes(4).toString('hex')}`);
  await symlink(generation, tmp);
  try {
    await rename(tmp, link);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  for (const name of await readdir(root))
    if (name.startsWith('gen-') && name !== generation && name !== before)
      await rm(path.join(root, name), { recursive: true, force: true });
  return before;
}
