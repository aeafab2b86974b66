/**
 * What this node last applied or published (data/policy-sync/applied.json, owner-only): the version, when,
 * and its own files' hashes right after (the baseline). A file that differs from its baseline at the next
 * reload is an edit made on this node, to publish; the record survives a restart, so edits made while the
 * proxy was stopped are published when it starts, and a node that never applied anything adopts the shared
 * policy instead of overwriting it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { PolicyManifest } from '../../audit/postgres/policy.js';
import { writeAtomic } from '../../lists/local-layer.js';
import { syncDir } from './local-files.js';

export interface AppliedRecord {
  version: number;
  /** When this node applied (or published) it. */
  appliedAt: string;
  /** The node that published it. */
  from: string;
  baseline: PolicyManifest;
  /** The version's own manifest: the files the database holds (the state copy's hash differs by node). */
  manifest: PolicyManifest;
}

function recordFile(dataDir: string): string {
  return path.join(syncDir(dataDir), 'applied.json');
}

export async function readAppliedRecord(dataDir: string): Promise<AppliedRecord | null> {
  const text = await readFile(recordFile(dataDir), 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const r = JSON.parse(text) as AppliedRecord;
    return Number.isSafeInteger(r.version) && typeof r.baseline === 'object' && typeof r.manifest === 'object'
      ? r
      : null;
  } catch {
    return null; // unreadable: treated as a node that never applied (it adopts the shared policy)
  }
}

export async function writeAppliedRecord(dataDir: string, record: AppliedRecord): Promise<void> {
  await writeAtomic(recordFile(dataDir), `${JSON.stringify(record)}\n`);
}

export function sameManifest(a: PolicyManifest, b: PolicyManifest): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
