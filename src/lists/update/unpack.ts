/**
 * Unpacking a source's tarball safely, with node-tar (`tar`, the library npm itself unpacks packages
 * with: gzip, pax and GNU long names handled, and years of path-traversal fixes we would otherwise
 * re-learn). Two passes over the file:
 *   1. list every header and refuse the archive (SG_LIST_ARCHIVE_INVALID) when a path is absolute or climbs
 *      out (`..`), an entry is a hard link, device or FIFO, there are more than MAX_ENTRIES entries, or
 *      the files add up to more than the source's maxUnpackedMB: nothing is written for such an archive;
 *   2. extract only regular files and folders (symbolic links, UT1's alias folders such as porn -> adult,
 *      are skipped and counted), owner-only (umask 077), tar's own path checks still on.
 * A truncated or corrupt archive fails either pass (strict mode), again with SG_LIST_ARCHIVE_INVALID.
 */
import { extract, list, type ReadEntry } from 'tar';
import { SchoolgateError } from '../../errors.js';

/** UT1's whole tree is a few hundred entries; far more is not a category tree. */
export const MAX_ENTRIES = 100_000;
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

export interface UnpackLimits {
  maxBytes: number;
  maxEntries?: number;
  /** How errors name the archive (its URL rather than the temporary file). */
  shownAs?: string;
}

export interface Unpacked {
  files: number;
  bytes: number;
  /** Symbolic links in the archive, not extracted. */
  skippedLinks: string[];
}

export function archiveError(file: string, detail: string, cause?: unknown): SchoolgateError {
  return new SchoolgateError('SG_LIST_ARCHIVE_INVALID', `${file}: ${detail}`, {
    context: { file },
    suggestion:
      'nothing of it was imported and the lists in force stay; check `root` in lists.sources and the source itself',
    ...(cause ? { cause } : {}),
  });
}

/** Why a header is refused, or undefined when it may be unpacked (or skipped, for a symbolic link). */
export function refusedEntry(type: string, entryPath: string): string | undefined {
  const parts = entryPath.replace(/\\/g, '/').split('/');
  if (entryPath.startsWith('/') || /^[a-zA-Z]:/.test(entryPath)) return `absolute path ${entryPath}`;
  if (parts.includes('..')) return `path ${entryPath} climbs out of the archive's folder`;
  if (!FILE_TYPES.has(type) && type !== 'SymbolicLink') return `${entryPath} is a ${type}`;
  return undefined;
}

export async function unpackTarball(file: string, dest: string, limits: UnpackLimits): Promise<Unpacked> {
  const maxEntries = limits.maxEntries ?? MAX_ENTRIES;
  const shown = limits.shownAs ?? file;
  const out: Unpacked = { files: 0, bytes: 0, skippedLinks: [] };
  let refused: string | undefined;
  let entries = 0;
  try {
    await list({
      file,
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        entries++;
        refused ??= refusedEntry(entry.type, entry.path);
        if (entry.type === 'SymbolicLink') out.skippedLinks.push(entry.path);
        else if (entry.type !== 'Directory') {
          out.files++;
          out.bytes += entry.size ?? 0;
        }
        if (out.bytes > limits.maxBytes) refused ??= `its files add up to more than ${limits.maxBytes} bytes`;
        if (entries > maxEntries) refused ??= `more than ${maxEntries} entries`;
      },
    });
  } catch (err) {
    throw archiveError(shown, `not a readable tar.gz (${(err as Error).message})`, err);
  }
  if (refused) throw archiveError(shown, refused);
  if (entries === 0) throw archiveError(shown, 'an empty archive');
  try {
    await extract({
      file,
      cwd: dest,
      strict: true,
      umask: 0o077,
      preserveOwner: false,
      filter: (_path, entry) => FILE_TYPES.has((entry as ReadEntry).type),
    });
  } catch (err) {
    throw archiveError(shown, `cannot be unpacked (${(err as Error).message})`, err);
  }
  return out;
}
