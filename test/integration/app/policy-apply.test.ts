/**
 * Writing a fetched policy version into a data dir (src/app/policy-sync/apply.ts), on real files and a real
 * state database: the files land owner-only, files the version lacks go, the live state database takes the
 * new rows through an open connection; a name outside the policy folders or a damaged state copy changes
 * nothing (the last good policy stays).
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../../src/audit/postgres/policy.js';
import { applyPolicyFiles, isPolicyName } from '../../../src/app/policy-sync/apply.js';
import { readLocalPolicy } from '../../../src/app/policy-sync/local-files.js';
import { openStateDatabase } from '../../../src/state/database.js';
import { tempDir } from '../../helpers/schoolgate.js';

/** A data dir whose state database holds one network, and a local list file. */
function dataDir(network: string, domain: string): string {
  const dir = path.join(tempDir(), 'data');
  const db = openStateDatabase(dir);
  db.prepare('INSERT INTO networks (cidr, profile, name, created_at) VALUES (?, ?, ?, 0)').run(
    network,
    'pupil',
    'n',
  );
  db.close();
  mkdirSync(path.join(dir, 'categories.local', 'social'), { recursive: true });
  writeFileSync(path.join(dir, 'categories.local', 'social', 'domains'), `${domain}\n`);
  return dir;
}

describe('applying a policy version to a data dir', () => {
  it('writes the files owner-only, removes the ones the version lacks, restores the live state database', async () => {
    const from = dataDir('10.1.0.0/16', 'from.test');
    mkdirSync(path.join(from, 'keywords.local'), { recursive: true });
    writeFileSync(path.join(from, 'keywords.local', 'local.txt'), 'a phrase\n');
    const to = dataDir('10.2.0.0/16', 'to.test');
    writeFileSync(path.join(to, 'categories.local', 'social', 'removed'), 'gone.test\n');
    const version = await readLocalPolicy(from);
    const live = openStateDatabase(to); // the proxy's open connection
    try {
      await applyPolicyFiles(to, version.manifest, version.files);
      expect(live.prepare('SELECT cidr FROM networks').all()).toEqual([{ cidr: '10.1.0.0/16' }]);
    } finally {
      live.close();
    }
    const domains = path.join(to, 'categories.local', 'social', 'domains');
    expect(readFileSync(domains, 'utf8')).toBe('from.test\n');
    expect(statSync(domains).mode & 0o777).toBe(0o600);
    expect(existsSync(path.join(to, 'categories.local', 'social', 'removed'))).toBe(false);
    expect(readFileSync(path.join(to, 'keywords.local', 'local.txt'), 'utf8')).toBe('a phrase\n');
  });

  it('refuses a name outside the policy folders, writing nothing', async () => {
    const to = dataDir('10.2.0.0/16', 'to.test');
    for (const bad of [
      'config.yaml',
      'categories.local/../config.yaml',
      '../x',
      'certs/ca.key',
      'categories.local',
    ])
      expect(isPolicyName(bad), bad).toBe(false);
    const evil = Buffer.from('evil.test\n');
    const manifest = {
      'categories.local/../../evil': sha256(evil),
      'categories.local/social/domains': sha256(evil),
    };
    const files = new Map(Object.keys(manifest).map((n) => [n, evil]));
    await expect(applyPolicyFiles(to, manifest, files)).rejects.toThrow(/outside the policy folders/);
    expect(readFileSync(path.join(to, 'categories.local', 'social', 'domains'), 'utf8')).toBe('to.test\n');
  });

  it('refuses a damaged state database copy, keeping the last good policy', async () => {
    const from = dataDir('10.1.0.0/16', 'from.test');
    const to = dataDir('10.2.0.0/16', 'to.test');
    const version = await readLocalPolicy(from);
    const state = Buffer.from(version.files.get('state.sqlite')!);
    state.fill(0x55, 4096, 8192); // a page of garbage
    const files = new Map(version.files).set('state.sqlite', state);
    await expect(applyPolicyFiles(to, version.manifest, files)).rejects.toThrow();
    expect(readFileSync(path.join(to, 'categories.local', 'social', 'domains'), 'utf8')).toBe('to.test\n');
    const db = openStateDatabase(to);
    try {
      expect(db.prepare('SELECT cidr FROM networks').all()).toEqual([{ cidr: '10.2.0.0/16' }]);
    } finally {
      db.close();
    }
  });
});
