/**
 * Owner-only files. The data directory holds pupils' browsing, searches and self-report comments, every
 * user's password hash and the warn-token key; the certs folder holds the school CA key. None of it is for
 * another account on the server: folders 0700, files 0600.
 *
 * - Created so: `makePrivateDir` and `createPrivateFile` chmod what they create, so the umask neither
 *   widens nor narrows it. SQLite gives `-wal`, `-shm` and `-journal` the main file's mode (its unix VFS
 *   copies the mode and fchmods a new empty file to it), so creating the database file first is enough.
 * - Checked at `serve` and by every CLI command (`checkFileModes`): a looser mode on an existing entry (an
 *   upgrade from a version that made them 0644/0755) is tightened with a warning naming it. Refusing to
 *   start instead would leave a school unfiltered after an upgrade; tightening loses nothing.
 * - Only entries owned by the data directory's owner (the account schoolgate runs as) are changed: a file
 *   another account owns is reported, never changed under it (root's config in a shared certs folder
 *   made 0600 would stop the proxy reading it).
 */
import {
  chmodSync,
  closeSync,
  fchmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  statSync,
} from 'node:fs';
import path from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** A data directory holds a few dozen entries; past this the walk stops and says so. */
const MAX_ENTRIES = 20_000;

/** Creates `dir` (and missing parents) owner-only. An existing folder is left to checkFileModes. */
export function makePrivateDir(dir: string): void {
  const target = path.resolve(dir);
  const first = mkdirSync(target, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first === undefined) return;
  // Every folder this call created, from the deepest up to the first one.
  for (let d = target; ; d = path.dirname(d)) {
    chmodSync(d, PRIVATE_DIR_MODE);
    if (d === path.resolve(first) || d === path.dirname(d)) break;
  }
}

/** Creates `file` empty and owner-only unless it exists (an existing one is left to checkFileModes). */
export function createPrivateFile(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'wx', PRIVATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
}

export interface ModeFinding {
  path: string;
  kind: 'dir' | 'file';
  /** Octal, e.g. '0644'. */
  mode: string;
  /** What it is now: tightened to this mode, or left as it was (and why). */
  action: 'tightened' | 'left';
  to?: string;
  why?: string;
}

export interface ModeCheck {
  at: string;
  /** Folders and files looked at. */
  checked: number;
  /** Every entry looser than owner-only, and what was done about it. Empty: all owner-only. */
  loose: ModeFinding[];
  /** The walk stopped at MAX_ENTRIES. */
  truncated: boolean;
}

const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/**
 * Walks the data directory and the certs folder (symbolic links are not followed) and finds every entry
 * readable, writable or searchable by group or others. With `fix`, tightens each one this process may change
 * (clearing the group and other bits, keeping the owner's) and calls `warn` for every finding.
 */
export function checkFileModes(
  roots: { dataDir: string; certsDir?: string | null },
  opts: { fix: boolean; warn?: (finding: ModeFinding, message: string) => void },
): ModeCheck {
  const result: ModeCheck = { at: new Date().toISOString(), checked: 0, loose: [], truncated: false };
  const owner = ownerOf(roots.dataDir) ?? (roots.certsDir ? ownerOf(roots.certsDir) : undefined);
  if (owner === undefined) return result;
  const me = process.getuid?.();
  const visit = (entry: string, follow: boolean): void => {
    if (result.checked >= MAX_ENTRIES) {
      result.truncated = true;
      return;
    }
    let st;
    try {
      st = follow ? statSync(entry) : lstatSync(entry);
    } catch {
      return; // gone meanwhile, or a root that does not exist yet
    }
    if (!st.isDirectory() && st.isSymbolicLink()) return;
    // The certs folder ships with its own README (documentation, no secret): not a finding on every install.
    if (st.isFile() && path.basename(entry) === 'README.md') return;
    result.checked++;
    const kind = st.isDirectory() ? 'dir' : 'file';
    if ((st.mode & 0o077) !== 0) {
      const finding = tighten(entry, kind, st.mode, st.uid, owner, me, opts.fix);
      result.loose.push(finding);
      opts.warn?.(finding, describe(finding));
    }
    if (kind !== 'dir') return;
    let names: string[];
    try {
      names = readdirSync(entry);
    } catch {
      return;
    }
    for (const name of names.sort()) visit(path.join(entry, name), false);
  };
  visit(path.resolve(roots.dataDir), true);
  if (roots.certsDir) {
    const certs = path.resolve(roots.certsDir);
    const data = path.resolve(roots.dataDir);
    if (certs !== data && !certs.startsWith(`${data}${path.sep}`)) visit(certs, true);
  }
  return result;
}

function tighten(
  entry: string,
  kind: 'dir' | 'file',
  mode: number,
  uid: number,
  owner: number,
  me: number | undefined,
  fix: boolean,
): ModeFinding {
  const base = { path: entry, kind, mode: octal(mode) } as const;
  if (!fix)
    return { ...base, action: 'left', why: 'reported only (the next start or CLI command tightens it)' };
  if (uid !== owner)
    return {
      ...base,
      action: 'left',
      why: `owned by uid ${uid}, not by the data directory's owner (uid ${owner})`,
    };
  if (me !== undefined && me !== 0 && me !== uid)
    return { ...base, action: 'left', why: `this account (uid ${me}) does not own it` };
  const to = mode & 0o700;
  try {
    chmodSync(entry, to);
  } catch (err) {
    return {
      ...base,
      action: 'left',
      why: `chmod failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    };
  }
  return { ...base, action: 'tightened', to: octal(to) };
}

function describe(f: ModeFinding): string {
  const what = f.kind === 'dir' ? 'folder' : 'file';
  return f.action === 'tightened'
    ? `tightened the ${what} ${f.path} from ${f.mode} to ${f.to}: other accounts on this server could read it`
    : `the ${what} ${f.path} is ${f.mode}, readable by other accounts on this server, and was left so: ${f.why}`;
}

function ownerOf(dir: string): number | undefined {
  try {
    return statSync(dir).uid;
  } catch {
    return undefined;
  }
}
