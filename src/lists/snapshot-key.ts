/**
 * The key of a list-index snapshot (snapshot-file.ts): a SHA-256 over everything a load reads and every
 * option that changes what it builds. The CONTENT of every file is hashed, not only sizes and mtimes: a
 * technician's `lists add` can leave a file's size and (on a coarse clock) its mtime as they were, and a
 * stale index must never answer after a list edit. Hashing UT1 (~22 MB) costs ~20 ms; parsing it costs
 * seconds.
 *
 * The roots are walked whole (categories/, the local layer, the provider generation), symlinked folders
 * followed once each, rather than re-deriving which files the loader opens: a file the loader reads that
 * the key missed would make a stale snapshot possible; a file the key covers that the loader ignores only
 * costs a rebuild when it changes.
 *
 * A file edited while the load runs is safe too: the key is taken before the files are parsed, so a
 * snapshot can only hold content newer than its key says, and the next start sees a different key.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readlinkSync, readSync, realpathSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import path from 'node:path';
import type { LoadOptions } from './load.js';

/**
 * Bump when what a load builds from the same files changes (the parsers in src/policy/entries.ts, the
 * layout of ListIndexImage, load.ts's layering): a snapshot of another version is never read.
 */
export const SNAPSHOT_VERSION = 1;

/** The key of the index `fillCategories(dir, opts)` builds, as 32 bytes. */
export function snapshotKey(dir: string, opts: LoadOptions): Buffer {
  const hash = createHash('sha256');
  const options = {
    version: SNAPSHOT_VERSION,
    endianness: endianness(),
    metaDefaults: opts.metaDefaults ?? false,
    only: opts.only ?? null,
    limits: opts.limits ?? null,
  };
  hash.update(`${JSON.stringify(options)}\n`);
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
