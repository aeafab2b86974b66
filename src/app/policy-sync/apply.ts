/**
 * Writes a fetched policy version into this node's data dir. The list and keyword files are replaced one by
 * one atomically (temp file + rename, owner-only), files the version no longer has are removed, and the
 * state database is restored through SQLite's backup API into the live file: the proxy's open connections
 * (users, unblock requests) then read the new rows, where a rename would leave them reading the old file.
 * Everything is checked before anything is written: a damaged copy changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { PolicyManifest } from '../../audit/postgres/policy.js';
import { writeAtomic } from '../../lists/local-layer.js';
import { stateDbPath } from '../../state/database.js';
import { makePrivateDir, PRIVATE_FILE_MODE } from '../file-modes.js';
import { listPolicyFiles, POLICY_DIRS, STATE_FILE, syncDir } from './local-files.js';

/** A name a version may carry: the state file or a plain path under a policy folder (never `..`). */
export function isPolicyName(name: string): boolean {
  if (name === STATE_FILE) return true;
  const parts = name.split('/');
  return (
    parts.length >= 2 &&
    (POLICY_DIRS as readonly string[]).includes(parts[0]!) &&
    parts.every((p) => p !== '' && p !== '.' && p !== '..' && !p.includes('\\') && !p.includes('\0'))
  );
}

/**
 * Makes the data dir hold `manifest`: `fetched` has the bytes of every file that differs from the local
 * one. Throws (writing nothing) on a name outside the policy folders or a state copy that fails its check.
 */
export async function applyPolicyFiles(
  dataDir: string,
  manifest: PolicyManifest,
  fetched: ReadonlyMap<string, Buffer>,
): Promise<void> {
  for (const name of Object.keys(manifest))
    if (!isPolicyName(name))
      throw new Error(`a policy version names a file outside the policy folders: ${name}`);
  const state = fetched.get(STATE_FILE);
  const stateTemp = state ? await checkedStateCopy(dataDir, state) : null;
  try {
    for (const [name, bytes] of fetched)
      if (name !== STATE_FILE) await writeAtomic(path.join(dataDir, name), bytes);
    for (const name of await listPolicyFiles(dataDir))
      if (!(name in manifest)) {
        await rm(path.join(dataDir, name), { force: true });
        await removeEmptyParents(dataDir, path.dirname(name));
      }
    if (stateTemp) await restoreState(stateTemp, stateDbPath(dataDir));
  } finally {
    if (stateTemp) await rm(stateTemp, { force: true });
  }
}

/** The fetched state database in a private scratch file, refused unless SQLite's quick_check passes. */
async function checkedStateCopy(dataDir: string, bytes: Buffer): Promise<string> {
  makePrivateDir(syncDir(dataDir));
  const file = path.join(syncDir(dataDir), `state-in-${randomBytes(4).toString('hex')}.sqlite`);
  await writeFile(file, bytes, { mode: PRIVATE_FILE_MODE });
  try {
    const db = new Database(file, { readonly: true });
    try {
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok')
        throw new Error(`the state database of the policy version fails its check: ${String(check)}`);
    } finally {
      db.close();
    }
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
  return file;
}

/** Copies every page of `from` into the live state database in one write transaction. */
async function restoreState(from: string, live: string): Promise<void> {
  const src = new Database(from, { readonly: true });
  try {
    // All remaining pages in one step: readers see the old database or the new one, never a mix.
    await src.backup(live, { progress: () => 0x7fffffff });
  } finally {
    src.close();
  }
}

async function removeEmptyParents(dataDir: string, rel: string): Promise<void> {
  for (let d = rel; d.includes('/'); d = path.posix.dirname(d)) {
    const full = path.join(dataDir, d);
    if ((await readdir(full).catch(() => ['?'])).length > 0) return;
    await rmdir(full).catch(() => undefined);
  }
}
