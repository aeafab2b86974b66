/**
 * The key of a list-index snapshot (snapshot-file.ts): a SHA-256 over everything a load reads and every
 * option that changes what it builds. The CONTENT of every file is hashed, not only sizes and mtimes: a
 * technician's `lists add` can leave a file's size and (on a coarse clock) its mtime as they were, and a
 * stale index must never answer after a list edit. Hashing UT1 (~22 MB) costs ~20 ms; parsing it costs
 * seconds.
 *
 * Start and reload key only the big layers (load-snapshot.ts reads the local layer over the snapshot, so a
 * technician's edit does not change the key); a load with `only` still builds the local layer in.
 *
 * The roots are walked whole (categories/, the local layer if given, the provider generation), symlinked folders
 * followed once each, rather than re-deriving which files the loader opens: a file the loader reads that
 * the key missed would make a stale snapshot possible; a file the key covers that the loader ignores only
 * costs a rebuild when it changes.
 *
 * A file edited while the load runs is safe too: the key is taken before the files are parsed, so a
 * snapshot can only hold content newer than its key says, and the next start sees a different key.
 */
import { createHash, type Hash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadOptions } from './load.js';

/** The snapshot file's layout (snapshot-file.ts): a snapshot of another version is never read. */
export const SNAPSHOT_VERSION = 1;

/**
 * What a load builds from the same files depends on the code too (the parsers, the public suffix list,
 * the index layout, the layering in load.ts): the loader's own modules (this folder and src/policy, as
 * built) and the version of tldts (the suffix list) are part of the key, so an upgrade never reads an
 * index the previous version built. A few hundred KB, hashed once per process.
 */
let codeKey: Buffer | undefined;
function loaderCode(): Buffer {
  if (codeKey) return codeKey;
  const hash = createHash('sha256');
  const here = path.dirname(fileURLToPath(import.meta.url));
  const chunk = Buffer.allocUnsafe(1 << 16);
  walk(hash, here, 'lists', new Set(), chunk);
  walk(hash, path.join(here, '..', 'policy'), 'policy', new Set(), chunk);
  hash.update(`tldts ${packageVersion('tldts')}\n`);
  return (codeKey = hash.digest());
}

function packageVersion(name: string): string {
  try {
    let dir = path.dirname(createRequire(import.meta.url).resolve(name));
    for (; dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const manifest = path.join(dir, 'package.json');
      if (!existsSync(manifest)) continue;
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (parsed.name === name) return parsed.version ?? '?';
    }
  } catch {
    // Not found: the key still differs from a run that found it.
  }
  return 'unknown';
}

/** The key of the index `fillCategories(dir, opts)` builds, as 32 bytes. */
export function snapshotKey(dir: string, opts: LoadOptions): Buffer {
  const hash = createHash('sha256');
  const options = {
    version: SNAPSHOT_VERSION,
    endianness: endianness(),
    metaDefaults: opts.metaDefaults ?? false,
    only: opts.only ?? null,
    // Only the two limits the loader reads: config.lists holds other settings a load does not depend on.
    limits: opts.limits
      ? { maxInvalidLines: opts.limits.maxInvalidLines, maxInvalidShare: opts.limits.maxInvalidShare }
      : null,
  };
  hash.update(`${JSON.stringify(options)}\n`);
  hash.update(loaderCode());
  const chunk = Buffer.allocUnsafe(1 << 20);
  const roots = [dir, opts.local?.dir, opts.provider?.dir];
  for (const [i, root] of roots.entries()) {
    hash.update(`root ${i} ${root ?? '-'}\n`);
    if (root !== undefined) walk(hash, path.resolve(root), '', new Set(), chunk);
  }
  return hash.digest();
}

/** Every entry under `dir` in name order: names, kinds, sizes and file contents into the hash. */
function walk(hash: Hash, dir: string, rel: string, seen: Set<string>, chunk: Buffer): void {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
    const real = realpathSync(dir);
    if (seen.has(real)) {
      hash.update(`again ${rel}\n`);
      return;
    }
    seen.add(real);
  } catch (err) {
    // A missing root (no local layer yet) is a state like any other; anything else is hashed as its error.
    hash.update(`unreadable ${rel} ${(err as NodeJS.ErrnoException).code ?? 'error'}\n`);
    return;
  }
  for (const name of names) {
    const full = path.join(dir, name);
    const at = rel === '' ? name : `${rel}/${name}`;
    let stats;
    try {
      stats = statSync(full);
    } catch (err) {
      // A dangling symlink: its target text, so pointing it elsewhere changes the key.
      const target = (() => {
        try {
          return readlinkSync(full);
        } catch {
          return '';
        }
      })();
      hash.update(`broken ${at} ${(err as NodeJS.ErrnoException).code ?? 'error'} ${target}\n`);
      continue;
    }
    if (stats.isDirectory()) {
      hash.update(`dir ${at}\n`);
      walk(hash, full, at, seen, chunk);
    } else if (stats.isFile()) {
      hash.update(`file ${at} ${stats.size}\n`);
      hashContent(hash, full, chunk);
    } else hash.update(`other ${at}\n`);
  }
}

function hashContent(hash: Hash, file: string, chunk: Buffer): void {
  const fd = openSync(file, 'r');
  try {
    let total = 0;
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; total += n)
      hash.update(chunk.subarray(0, n));
    // The length read, too: a file that grew or shrank while hashed is not the size stat gave.
    hash.update(`read ${total}\n`);
  } finally {
    closeSync(fd);
  }
}
