/**
 * The school's local layer of category lists, under the data directory, loaded above the shipped lists:
 *
 *   <dataDir>/categories.local/categories.yaml     metadata of categories the school created
 *   <dataDir>/categories.local/<category>/domains  entries added to a shipped or local category
 *   <dataDir>/categories.local/<category>/urls
 *   <dataDir>/categories.local/<category>/removed  shipped entries the school un-listed (either kind)
 *
 * The shipped categories/ are never written by the CLI, so an upgrade never conflicts with a school's
 * edits. Files are the same squidGuard format as the shipped ones; `removed` is read with the same parser.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { makePrivateDir, PRIVATE_FILE_MODE } from '../app/file-modes.js';
import { SchoolgateError } from '../errors.js';
import type { CategoryMeta } from '../policy/types.js';
import { anyLineKey } from './entry.js';
import { CATEGORY_NAME, parseCategoriesYaml } from './metadata.js';
import { forEachLine } from './read-lines.js';

export const LOCAL_DIR = 'categories.local';
export const LOCAL_META = 'categories.yaml';
export type LocalFile = 'domains' | 'urls' | 'expressions' | 'removed';

export interface LocalLayer {
  dir: string;
  /** Categories the school created (not in the shipped set). */
  metas: CategoryMeta[];
  /** category → keys (see entry.ts) of shipped entries the school un-listed. */
  removed: Map<string, Set<string>>;
  /** Category directories present in the local layer (load.ts warns about those no category owns). */
  dirs: string[];
}

export function localLayerDir(dataDir: string): string {
  return path.join(dataDir, LOCAL_DIR);
}

export function localFile(dataDir: string, category: string, file: LocalFile): string {
  return path.join(localLayerDir(dataDir), category, file);
}

export function localMetaFile(dataDir: string): string {
  return path.join(localLayerDir(dataDir), LOCAL_META);
}

/** Reads the local layer's metadata and removals (the entry files are streamed by load.ts). */
export async function readLocalLayer(dataDir: string): Promise<LocalLayer> {
  const dir = localLayerDir(dataDir);
  const metaFile = localMetaFile(dataDir);
  const yamlText = await readTextIfExists(metaFile);
  const metas = yamlText === undefined ? [] : parseCategoriesYaml(yamlText, metaFile).meta;
  const removed = new Map<string, Set<string>>();
  const dirs: string[] = [];
  const names = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of names) {
    if (!entry.isDirectory() || !CATEGORY_NAME.test(entry.name)) continue;
    const keys = new Set<string>();
    const file = path.join(dir, entry.name, 'removed');
    if (await exists(file))
      await forEachLine([file], (line) => {
        const key = anyLineKey(line);
        if (key) keys.add(key);
      });
    if (keys.size > 0) removed.set(entry.name, keys);
    dirs.push(entry.name);
  }
  return { dir, metas, removed, dirs };
}

/** Lines of a local file ([] when it does not exist). */
export async function readLines(file: string): Promise<string[]> {
  const text = await readTextIfExists(file);
  if (text === undefined || text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

export async function readTextIfExists(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new SchoolgateError('SG_FILE_UNREADABLE', `cannot read ${file}: ${err.message}`, {
      context: { file },
      suggestion: 'check the file permissions of the data directory',
    });
  });
}

/**
 * Replaces `file` with `text` atomically: a reader (the proxy reloading) sees the old file or the new one,
 * never half of each. Temp file in the same directory, fsync, rename.
 */
export async function writeAtomic(file: string, text: string | Uint8Array): Promise<void> {
  makePrivateDir(path.dirname(file));
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(tmp, 'w', PRIVATE_FILE_MODE);
  try {
    await handle.chmod(PRIVATE_FILE_MODE); // the data directory is owner-only, whatever the umask
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Writes lines (or removes the file when there are none left and it held nothing else). */
export async function writeLines(file: string, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) {
    await rm(file, { force: true });
    return;
  }
  await writeAtomic(file, `${lines.join('\n')}\n`);
}

export async function removeLocalCategoryDir(dataDir: string, category: string): Promise<void> {
  await rm(path.join(localLayerDir(dataDir), category), { recursive: true, force: true });
}

const LOCK_WAIT_MS = 15_000;
const LOCK_STALE_MS = 120_000;

/**
 * Runs fn holding the local layer's lock (`<dataDir>/categories.local/.lock`), so two technicians' edits
 * at the same moment cannot lose one another's lines in a read-modify-write. A lock older than two
 * minutes is left by a killed process and is taken over.
 */
export async function withLocalLock<T>(dataDir: string, fn: () => Promise<T>): Promise<T> {
  const dir = localLayerDir(dataDir);
  makePrivateDir(dir);
  const lock = path.join(dir, '.lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(lock, 'wx', PRIVATE_FILE_MODE);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > LOCK_STALE_MS) await unlink(lock).catch(() => undefined);
      else if (Date.now() > deadline)
        throw new SchoolgateError('SG_LIST_LOCKED', `another list change is in progress (${lock})`, {
          context: { lock },
          suggestion:
            'wait for it to finish and run the command again; remove the file if no schoolgate command is running',
        });
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
