/**
 * This node's policy files, as they travel between nodes (policy-sync): the state database (users, networks,
 * devices, exceptions, the admin-changes chain), every file of the local list layer (`lists add/remove`,
 * `lists import`, profile overrides) and of the local keywords. Config files, the certificates, the audit
 * database and the provider layer (`lists update`, fetched by each node) stay per node.
 *
 * The state database is read as a consistent copy (VACUUM INTO) taken while the proxy may be writing it.
 * Its bytes differ between two nodes holding the same rows, so a node compares its files with the ones it
 * had right after its last apply (its baseline), never with another node's hashes.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { KEYWORDS_LOCAL_DIR } from '../../alerts/keywords/load.js';
import { sha256, type PolicyManifest } from '../../audit/postgres/policy.js';
import { LOCAL_DIR } from '../../lists/local-layer.js';
import { openStateDatabase } from '../../state/database.js';
import { makePrivateDir } from '../file-modes.js';

export const STATE_FILE = 'state.sqlite';
/** Folders whose every file is policy (names relative to the data dir). */
export const POLICY_DIRS = [LOCAL_DIR, KEYWORDS_LOCAL_DIR] as const;
/** This node's scratch space and its record of what it applied: never published. */
export const SYNC_DIR = 'policy-sync';

/** Locks and half-written temp files are never policy. */
function isScratch(name: string): boolean {
  return name === '.lock' || name.includes('.tmp-');
}

export interface LocalPolicy {
  manifest: PolicyManifest;
  files: Map<string, Buffer>;
}

export function syncDir(dataDir: string): string {
  return path.join(dataDir, SYNC_DIR);
}

/** Every policy file of the data dir with its hash. */
export async function readLocalPolicy(dataDir: string): Promise<LocalPolicy> {
  const files = new Map<string, Buffer>();
  files.set(STATE_FILE, await stateCopy(dataDir));
  for (const dir of POLICY_DIRS)
    for (const name of await listFiles(dataDir, dir))
      files.set(name, await readFile(path.join(dataDir, name)));
  const manifest: PolicyManifest = {};
  for (const name of [...files.keys()].sort()) manifest[name] = sha256(files.get(name)!);
  return { manifest, files };
}

/** The policy files under the policy folders now (relative names with /). */
export async function listPolicyFiles(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const dir of POLICY_DIRS) out.push(...(await listFiles(dataDir, dir)));
  return out;
}

async function listFiles(dataDir: string, rel: string): Promise<string[]> {
  const entries = await readdir(path.join(dataDir, rel), { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries) {
    if (isScratch(e.name)) continue;
    const name = `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await listFiles(dataDir, name)));
    else if (e.isFile()) out.push(name);
  }
  return out.sort();
}

/** A consistent copy of the state database's bytes (VACUUM INTO a private scratch file). */
async function stateCopy(dataDir: string): Promise<Buffer> {
  const scratch = syncDir(dataDir);
  makePrivateDir(scratch);
  const copy = path.join(scratch, `state-copy-${randomBytes(4).toString('hex')}.sqlite`);
  const db = openStateDatabase(dataDir);
  try {
    db.prepare('VACUUM INTO ?').run(copy);
    return await readFile(copy);
  } finally {
    db.close();
    await rm(copy, { force: true });
  }
}
