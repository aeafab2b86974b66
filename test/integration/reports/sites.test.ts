/**
 * Schools within a trust, end to end on SQLite: two networks in two sites (127.0.0.1 north, 127.0.0.2
 * south, both loopback), a flagged request from each through the real proxy; each audit row carries its
 * site, `report flagged --site north` shows north's person only (and the trust-wide report both), and the
 * site is covered by the hash chain: `audit verify` passes, an edited site is named. `report user`,
 * `report around` and `alerts list` take `--site` too (another site's row refused), and each access
 * record keeps the site the read was limited to.
 */
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { upsertAlert } from '../../../src/audit/alerts-table.js';
import { addDevice, addNetwork } from '../../../src/identity/address-admin.js';
import { addUser } from '../../../src/identity/user-admin.js';
import { runCli } from '../../helpers/cli.js';
import { sitedAlert } from '../../helpers/sites.js';
import { FIXTURE_PROFILES, startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';

let proxy: RunningSchoolgate;
let args: string[];
let auditPath: string;
let stopped = false;
const WHO = ['--by', 'T. Trust', '--reason', 'site review test'];

/** One proxy request from `localAddress`; resolves with the status once the answer has ended. */
function get(localAddress: string, url: string): Promise<number> {
  const { host } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: proxy.address.port, localAddress, path: url, headers: { host } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  const dir = tempDir();
  const config = testConfig({}, dir);
  const by = { by: 'IT', reason: 'trust sites' };
  await addUser(config, { name: 'n.pupil', profile: 'pupil' }, by);
  await addUser(config, { name: 's.pupil', profile: 'pupil' }, by);
  await addNetwork(config, { cidr: '127.0.0.1/32', profile: 'pupil', site: 'north' }, by);
  await addNetwork(config, { cidr: '127.0.0.2/32', profile: 'pupil', site: 'south' }, by);
  // Devices without a site: the rows' sites come from the networks.
  await addDevice(config, { address: '127.0.0.1', name: 'north-pc', user: 'n.pupil' }, by);
  await addDevice(config, { address: '127.0.0.2', name: 'south-pc', user: 's.pupil' }, by);
  proxy = await startTestProxy(config);
  auditPath = proxy.auditPath;
  const file = path.join(dir, 'config.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      profiles: FIXTURE_PROFILES,
      console: { enabled: false },
    }),
  );
  args = ['--config', file, '--data', config.dataDir, '--categories', config.categoriesDir];
  expect(await get('127.0.0.1', 'http://blocked.example/north')).toBe(403);
  expect(await get('127.0.0.2', 'http://blocked.example/south')).toBe(403);
  expect(await get('127.0.0.2', 'http://bet.test/south-again')).toBe(403);
  // Stopped before the CLI reads: every row and outcome committed, nothing written during the checks.
  await proxy.stop();
  stopped = true;
}, 60_000);

afterAll(async () => {
  if (!stopped) await proxy?.stop();
});

/** A report under case C-SOUTH (about s.pupil), as JSON. */
const underCase = () => ['--case', 'C-SOUTH', '--format', 'json', ...WHO, ...args];

function readAudit<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(auditPath, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** The latest `n` access records, oldest first. */
function lastAccess(n: number): { command: string; outcome: string; site: string | null }[] {
  return readAudit((db) =>
    (db.prepare('SELECT * FROM report_access ORDER BY id DESC LIMIT ?').all(n) as never[]).reverse(),
  );
}

function rows(): { username: string; site: string | null; path: string }[] {
  return readAudit(
    (db) => db.prepare('SELECT username, site, path FROM audit_events ORDER BY seq').all() as never,
  );
}

function rowId(path: string): string {
  return readAudit(
    (db) => db.prepare('SELECT id FROM audit_events WHERE path = ?').pluck().get(path) as string,
  );
}

interface Flagged {
  people: { user: string; flagged: number }[];
}

async function flagged(extra: string[]): Promise<Flagged> {
  const r = await runCli([
    'report',
    'flagged',
    '--since',
    '1d',
    '--format',
    'json',
    ...WHO,
    ...args,
    ...extra,
  ]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Flagged;
}

describe('sites of a trust', { timeout: 60_000 }, () => {
  it('records each request’s site from the network it came from', () => {
    expect(rows()).toEqual([
      { username: 'n.pupil', site: 'north', path: '/north' },
      { username: 's.pupil', site: 'south', path: '/south' },
      { username: 's.pupil', site: 'south', path: '/south-again' },
    ]);
  });

  it('report flagged --site north shows north’s rows only; without --site, the whole trust', async () => {
    expect((await flagged(['--site', 'north'])).people.map((p) => [p.user, p.flagged])).toEqual([
      ['n.pupil', 1],
    ]);
    expect((await flagged(['--site', 'south'])).people.map((p) => [p.user, p.flagged])).toEqual([
      ['s.pupil', 2],
    ]);
    expect((await flagged([])).people.map((p) => p.user).sort()).toEqual(['n.pupil', 's.pupil']);
    const text = await runCli(['report', 'flagged', '--since', '1d', '--site', 'north', ...WHO, ...args]);
    expect(text.stdout).toMatch(/Site\s+north/);
    expect(text.stdout).not.toContain('s.pupil');
  });

  it('report weekly --site south leaves north out', async () => {
    const r = await runCli(['report', 'weekly', '--since', '1d', '--site', 'south', ...WHO, ...args]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('s.pupil');
    expect(r.stdout).not.toContain('n.pupil');
  });

  it('refuses a malformed --site before reading anything', async () => {
    const r = await runCli(['report', 'flagged', '--site', 'North Site', ...WHO, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('site name');
  });

  it('report user --site: the person’s rows of that site only, the site in the access record', async () => {
    const opened = await runCli([
      'case',
      'open',
      'C-SOUTH',
      '--subject',
      's.pupil',
      '--by',
      'T. Trust',
      ...args,
    ]);
    expect(opened.code, opened.stderr).toBe(0);
    const user = async (site: string[]) => {
      const r = await runCli(['report', 'user', 's.pupil', ...underCase(), ...site]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { rows: { path: string }[] }).rows.map((row) => row.path);
    };
    expect(await user(['--site', 'south'])).toEqual(['/south', '/south-again']);
    expect(await user(['--site', 'north'])).toEqual([]);
    expect(await user([])).toEqual(['/south', '/south-again']);
    expect(lastAccess(3).map((a) => [a.command, a.outcome, a.site])).toEqual([
      ['report user', 'granted', 'south'],
      ['report user', 'granted', 'north'],
      ['report user', 'granted', null],
    ]);
  });

  it('report around --site: another site’s row refused and recorded; its own site’s row around it', async () => {
    const ref = rowId('/south');
    const around = (site: string) => runCli(['report', 'around', ref, ...underCase(), '--site', site]);
    const refused = await around('north');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('not of site north');
    expect(refused.stdout).toBe('');
    expect(lastAccess(1)[0]).toMatchObject({ command: 'report around', outcome: 'refused', site: 'north' });
    const granted = await around('south');
    expect(granted.code, granted.stderr).toBe(0);
    const data = JSON.parse(granted.stdout) as { rows: { path: string }[] };
    expect(data.rows.map((r) => r.path)).toEqual(['/south', '/south-again']);
    expect(lastAccess(1)[0]).toMatchObject({ command: 'report around', outcome: 'granted', site: 'south' });
  });

  it('alerts list --site: that site’s alerts only, the site in the access record', async () => {
    const db = new Database(auditPath);
    try {
      for (const [id, user, site] of [
        ['alert-n', 'n.pupil', 'north'],
        ['alert-s', 's.pupil', 'south'],
      ] as const)
        upsertAlert(db, sitedAlert(id, user, site, '127.0.0.1'));
    } finally {
      db.close();
    }
    const list = async (site: string[]) => {
      const r = await runCli(['alerts', 'list', '--json', '--by', 'T. Trust', ...args, ...site]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { id: string }).id)
        .sort();
    };
    expect(await list(['--site', 'north'])).toEqual(['alert-n']);
    expect(await list(['--site', 'south'])).toEqual(['alert-s']);
    expect(await list([])).toEqual(['alert-n', 'alert-s']);
    expect(lastAccess(3).map((a) => [a.command, a.site])).toEqual([
      ['alerts list', 'north'],
      ['alerts list', 'south'],
      ['alerts list', null],
    ]);
    const text = await runCli(['alerts', 'list', '--site', 'north', '--by', 'T. Trust', ...args]);
    expect(text.stdout).toContain('site north');
    expect(text.stdout).not.toContain('s.pupil');
  });

  it('covers the site by the hash chain: verify passes, then names an edited site', async () => {
    const ok = await runCli(['audit', 'verify', ...args]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const db = new Database(auditPath);
    try {
      db.prepare(`UPDATE audit_events SET site = 'north' WHERE path = '/south'`).run();
    } finally {
      db.close();
    }
    const bad = await runCli(['audit', 'verify', ...args]);
    expect(bad.code).toBe(1);
    expect(bad.stdout + bad.stderr).toContain('SG_AUDIT_TAMPERED');
  });
});
