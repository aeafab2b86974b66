/**
 * The illegal-content tier and pilot mode through a real proxy on loopback: plain HTTP, CONNECT and
 * inspected HTTPS, real SQLite rows. The tier's entries are made-up fixture names (no real list entry is
 * shipped or used). Nothing a school can set lets an entry through: a profile allow entry, the technician
 * profile (not inspected, default allow), inspection off, a never-inspect category, a Continue, pilot mode
 * (per profile and for the whole proxy), a local-layer allow entry; a broken tier file fails closed.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../../src/app/control.js';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import type { StatusReport } from '../../../src/app/status.js';
import type { ReadonlyConfig } from '../../../src/config/load.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { legacyExceptionsFile } from '../../../src/lists/exceptions.js';
import { loadOrCreateTokenKey, signGrant } from '../../../src/proxy/warn-token.js';
import { runCli } from '../../helpers/cli.js';
import { startOrigin, ORIGIN_BODY, type Origin } from '../../helpers/origin.js';
import { basic, rawExchange, viaProxy } from '../../helpers/raw-http.js';
import { FIXTURE_PROFILES, startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';
import {
  get,
  HTTPS_BODY,
  httpsThroughProxy,
  makeTestCa,
  startHttpsOrigin,
  type HttpsOrigin,
} from '../tls/fixtures.js';

interface Row {
  rowid: number;
  id: string;
  username: string | null;
  profile: string | null;
  host: string;
  path: string | null;
  action: string;
  rule: string | null;
  reason: string;
  flagged: number;
  status: number | null;
  kind: string;
  note: string | null;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const TIER_NAMES = ['abuse.test', 'shared.test', 'hashed.test', 'terror.test', 'plain.test', 'social.test'];
const ILLEGAL_WORDING = 'a list of illegal content that the law requires every school to block';

const USERS = {
  pupil: basic('pupil1', 'pw-pupil'),
  tech: basic('tech1', 'pw-tech'),
  pilot: basic('pilot1', 'pw-pilot'),
  staff: basic('staff1', 'pw-staff'),
};

/** The provider's files, as a school drops them into <dataDir>/illegal/. */
function writeTier(dataDir: string, iwf: string[], ctiru = ['terror.test']): void {
  const dir = path.join(dataDir, 'illegal');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'iwf.txt'), `# fixture only\n${iwf.join('\n')}\n`);
  writeFileSync(path.join(dir, 'ctiru.txt'), `${ctiru.join('\n')}\n`);
}

const IWF = ['abuse.test', 'shared.test/bad/', `sha256:${sha256('hashed.test/secret/page?id=1')}`];

/** A config whose tier names route to the loopback origins, with a banking category (never inspected). */
function config(input: Partial<ConfigInput>, dir = tempDir()): ReadonlyConfig {
  const c = testConfig({ ...input, hosts: Object.fromEntries(TIER_NAMES.map((n) => [n, '127.0.0.1'])) }, dir);
  mkdirSync(path.join(c.categoriesDir, 'banking'), { recursive: true });
  writeFileSync(path.join(c.categoriesDir, 'banking', 'domains'), 'terror.test\n');
  appendFileSync(
    path.join(c.categoriesDir, 'categories.yaml'),
    'banking:\n  title: Banking\n  description: fixture\n  flagged: false\n  alert: false\n',
  );
  return c;
}

async function addUsers(dataDir: string): Promise<void> {
  const users = new UserStore(dataDir);
  await users.add({ name: 'pupil1', profile: 'pupil', password: 'pw-pupil' });
  await users.add({ name: 'tech1', profile: 'technician', password: 'pw-tech' });
  await users.add({ name: 'pilot1', profile: 'pilot', password: 'pw-pilot' });
  await users.add({ name: 'staff1', profile: 'staff', password: 'pw-staff' });
  users.close();
}

/** Rows written after `mark`, in the order they were committed (read-only, beside the proxy's writer). */
function rowsSince(sg: RunningSchoolgate, mark: number): Row[] {
  const db = new Database(sg.auditPath, { readonly: true });
  try {
    return db.prepare('SELECT rowid, * FROM audit_events WHERE rowid > ? ORDER BY rowid').all(mark) as Row[];
  } finally {
    db.close();
  }
}

function mark(sg: RunningSchoolgate): number {
  return rowsSince(sg, 0).at(-1)?.rowid ?? 0;
}

let origin: Origin;
let httpsOrigin: HttpsOrigin;
let dir: string;

beforeAll(async () => {
  dir = tempDir();
  origin = await startOrigin();
  const publicCa = makeTestCa(dir);
  httpsOrigin = await startHttpsOrigin((name) => publicCa.issue([name]), 'hashed.test');
  (globalThis as { publicCaFile?: string }).publicCaFile = publicCa.file;
});

afterAll(async () => {
  await origin?.close();
  await httpsOrigin?.close();
});

describe('the illegal-content tier on a running proxy', () => {
  let sg: RunningSchoolgate;
  let c: ReadonlyConfig;
  let schoolCa: string;
  let common: string[];
  const url = (host: string, p = '/') => `http://${host}:${origin.port}${p}`;

  beforeAll(async () => {
    const allowAll = ['abuse.test', 'shared.test', 'hashed.test', 'terror.test'];
    c = config({
      httpPorts: [origin.port],
      tunnelPorts: [httpsOrigin.port, origin.port],
      identity: { basicAuth: true, requireAuth: false },
      profiles: {
        ...FIXTURE_PROFILES,
        pupil: { ...FIXTURE_PROFILES!.pupil!, allow: ['shared.test'] },
        technician: { inspect: false, default: 'allow', ipLiterals: 'allow', allow: allowAll },
        pilot: { mode: 'monitor', allow: allowAll, categories: { social: 'block' }, default: 'block' },
        staff: { ...FIXTURE_PROFILES!.staff!, mode: 'monitor' },
      },
      tls: {
        certsDir: path.join(dir, 'certs'),
        extraCaFiles: [(globalThis as { publicCaFile?: string }).publicCaFile!],
        neverInspect: { categories: ['banking'], hosts: [] },
      },
    });
    writeTier(c.dataDir, IWF);
    await addUsers(c.dataDir);
    sg = await startTestProxy(c);
    schoolCa = sg.proxy.tls!.ca.certPem;
    // The CLI reads a config file: the profiles the CLI commands below name.
    const file = path.join(dir, 'cli-config.json');
    writeFileSync(
      file,
      JSON.stringify({
        profiles: {
          ...FIXTURE_PROFILES,
          pilot: { mode: 'monitor', categories: { social: 'block' }, default: 'block' },
        },
      }),
    );
    common = ['--config', file, '--data', c.dataDir, '--categories', c.categoriesDir];
  });

  afterAll(async () => {
    await sg?.stop();
  });

  it('blocks a pupil with its own page: no Continue, no unblock hint; a block row naming the tier; a danger alert', async () => {
    const m = mark(sg);
    const danger = sg.alerts.engine.stats.raised.danger;
    const res = await viaProxy(sg.address.port, url('www.abuse.test', '/x'), {
      headers: { 'proxy-authorization': USERS.pupil },
    });
    expect(res.status).toBe(403);
    expect(res.body).toContain(ILLEGAL_WORDING);
    expect(res.body).not.toContain('continue');
    expect(res.body).not.toContain('ask your teacher or IT to check it');
    expect(res.body).not.toContain(ORIGIN_BODY);
    const [row] = rowsSince(sg, m);
    expect(row).toMatchObject({
      action: 'block',
      reason: 'illegal-tier',
      rule: 'illegal-tier:illegal:iwf.txt:abuse.test',
      flagged: 1,
      username: 'pupil1',
    });
    expect(sg.alerts.engine.stats.raised.danger).toBe(danger + 1);
  });

  it.each([
    ['a profile allow entry (pupil allows shared.test)', 'pupil', 'shared.test', '/bad/one'],
    ['the technician profile (allow entries, default allow)', 'tech', 'abuse.test', '/'],
    ['a pilot-mode profile with allow entries', 'pilot', 'abuse.test', '/'],
    ['a pilot-mode profile, CTIRU entry', 'pilot', 'terror.test', '/video'],
  ] as const)('still blocks through %s', async (_why, who, host, p) => {
    const target = url(host, p);
    const m = mark(sg);
    const res = await viaProxy(sg.address.port, target, { headers: { 'proxy-authorization': USERS[who] } });
    expect(res.status).toBe(403);
    expect(res.body).toContain(ILLEGAL_WORDING);
    expect(rowsSince(sg, m).map((r) => [r.action, r.reason])).toEqual([['block', 'illegal-tier']]);
    expect(origin.seen.some((s) => s.headers.host?.startsWith(new URL(target).hostname))).toBe(false);
  });

  it('lets a sibling of a URL entry through for the profile that allows its host', async () => {
    const res = await viaProxy(sg.address.port, url('shared.test', '/good/'), {
      headers: { 'proxy-authorization': USERS.pupil },
    });
    expect(res.status).toBe(200);
  });

  it('a valid Continue for an entry grants nothing: the next request is blocked all the same', async () => {
    const key = loadOrCreateTokenKey(c.dataDir);
    const token = signGrant(key, {
      subject: 'user:staff1',
      site: 'abuse.test',
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    const form = new URLSearchParams({ token, site: 'abuse.test', url: url('abuse.test', '/'), ref: '' });
    const posted = await viaProxy(sg.address.port, url('abuse.test', '/.schoolgate/continue'), {
      method: 'POST',
      headers: {
        'proxy-authorization': USERS.staff,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: form.toString(),
    });
    expect(posted.status).toBe(303); // the grant itself is recorded...
    const m = mark(sg);
    const res = await viaProxy(sg.address.port, url('abuse.test', '/'), {
      headers: { 'proxy-authorization': USERS.staff },
    });
    expect(res.status).toBe(403); // ...and decides nothing the tier holds
    expect(rowsSince(sg, m)[0]).toMatchObject({ action: 'block', reason: 'illegal-tier' });
  });

  it('refuses the CONNECT of a domain entry for a profile that is not inspected (technician)', async () => {
    const m = mark(sg);
    const res = await httpsThroughProxy(sg.address.port, `abuse.test:${httpsOrigin.port}`, {
      ca: schoolCa,
      proxyAuthorization: USERS.tech,
      requests: [get(`abuse.test:${httpsOrigin.port}`, '/')],
    });
    expect(res.connectStatus).toBe(403);
    expect(rowsSince(sg, m)[0]).toMatchObject({ kind: 'tunnel', action: 'block', reason: 'illegal-tier' });
  });

  it('blocks an entry in a never-inspect category (banking): its block page, nothing forwarded', async () => {
    // The tier's decision is made before categories, so no never-inspect exemption applies to it: the
    // tunnel opens only to show the block page (no request leaves the proxy), as for any blocked host.
    const seen = httpsOrigin.seen.length;
    const m = mark(sg);
    const res = await httpsThroughProxy(sg.address.port, `terror.test:${httpsOrigin.port}`, {
      ca: schoolCa,
      proxyAuthorization: USERS.pupil,
      requests: [get(`terror.test:${httpsOrigin.port}`, '/')],
    });
    expect(res.status).toBe(403);
    expect(res.body).toContain(ILLEGAL_WORDING);
    expect(httpsOrigin.seen.length).toBe(seen);
    expect(rowsSince(sg, m)[0]).toMatchObject({
      kind: 'tunnel',
      action: 'block',
      reason: 'block-page:illegal-tier',
      rule: 'illegal-tier:illegal:ctiru.txt:terror.test',
    });
  });

  it('shows an inspected pupil the block page over HTTPS for a domain entry; nothing reaches the origin', async () => {
    const seen = httpsOrigin.seen.length;
    const m = mark(sg);
    const res = await httpsThroughProxy(sg.address.port, `abuse.test:${httpsOrigin.port}`, {
      ca: schoolCa,
      proxyAuthorization: USERS.pupil,
      requests: [get(`abuse.test:${httpsOrigin.port}`, '/')],
    });
    expect(res.connectStatus).toBe(200);
    expect(res.status).toBe(403);
    expect(res.body).toContain(ILLEGAL_WORDING);
    expect(httpsOrigin.seen.length).toBe(seen);
    const rows = rowsSince(sg, m);
    expect(rows[0]).toMatchObject({ kind: 'tunnel', action: 'block', reason: 'block-page:illegal-tier' });
    expect(rows[1]).toMatchObject({ kind: 'inspected', action: 'block', reason: 'illegal-tier' });
  });

  it('blocks a hashed URL inside inspected HTTPS, and only that page, for a pilot-mode profile too', async () => {
    const host = `hashed.test:${httpsOrigin.port}`;
    for (const who of ['pupil', 'pilot'] as const) {
      const m = mark(sg);
      const res = await httpsThroughProxy(sg.address.port, host, {
        ca: schoolCa,
        proxyAuthorization: USERS[who],
        requests: [get(host, '/secret/page?id=1', {}, false), get(host, '/lessons/')],
      });
      expect(res.connectStatus).toBe(200);
      expect(res.text).toContain(ILLEGAL_WORDING);
      const inner = rowsSince(sg, m).filter((r) => r.kind === 'inspected');
      expect(inner[0]).toMatchObject({ path: '/secret/page?id=1', action: 'block', reason: 'illegal-tier' });
      expect(inner[0]!.rule).toBe(
        `illegal-tier:illegal:iwf.txt:sha256:${sha256('hashed.test/secret/page?id=1')}`,
      );
      expect(httpsOrigin.seen.some((s) => s.url === '/secret/page?id=1')).toBe(false);
    }
    // The same site's other pages are reached (the hash names one page).
    const res = await httpsThroughProxy(sg.address.port, host, {
      ca: schoolCa,
      proxyAuthorization: USERS.pupil,
      requests: [get(host, '/lessons/')],
    });
    expect(res.body).toBe(HTTPS_BODY);
  });

  it('a local-layer allow entry for the technician (an old-style exceptions file, migrated at load) and a reload change nothing', async () => {
    mkdirSync(path.dirname(legacyExceptionsFile(c.dataDir, 'technician', 'allow')), { recursive: true });
    writeFileSync(legacyExceptionsFile(c.dataDir, 'technician', 'allow'), 'abuse.test\nterror.test\n');
    await sg.reload();
    const res = await viaProxy(sg.address.port, url('abuse.test'), {
      headers: { 'proxy-authorization': USERS.tech },
    });
    expect(res.status).toBe(403);
    expect(res.body).toContain(ILLEGAL_WORDING);
  });

  it('pilot mode lets through what enforce would block or warn, and says so in the row', async () => {
    const m = mark(sg);
    const blocked = await viaProxy(sg.address.port, url('social.test', '/feed'), {
      headers: { 'proxy-authorization': USERS.pilot },
    });
    const uncategorised = await viaProxy(sg.address.port, url('plain.test', '/x'), {
      headers: { 'proxy-authorization': USERS.pilot },
    });
    const warned = await viaProxy(sg.address.port, url('social.test', '/staff'), {
      headers: { 'proxy-authorization': USERS.staff },
    });
    expect([blocked.status, uncategorised.status, warned.status]).toEqual([200, 200, 200]);
    expect(rowsSince(sg, m).map((r) => [r.path, r.action, r.reason])).toEqual([
      ['/feed', 'would-block', 'category'],
      ['/x', 'would-block', 'default'],
      ['/staff', 'would-warn', 'category'],
    ]);
  });

  it('explain names the tier, the pilot verdict and the uncategorised action; report pilot lists the would-blocks', async () => {
    const explained = await runCli([
      'explain',
      'http://abuse.test/',
      'http://plain.test/',
      '--profile',
      'pilot',
      '--json',
      ...common,
    ]);
    expect(explained.code).toBe(0);
    const [tier, plain] = explained.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(tier).toMatchObject({
      action: 'block',
      rule: { kind: 'illegal-tier', list: 'illegal:iwf.txt' },
      mode: 'monitor',
      would: null,
    });
    expect(plain).toMatchObject({
      action: 'block',
      rule: { kind: 'default' },
      would: 'block',
      uncategorised: 'block',
    });
    const text = await runCli(['explain', 'http://abuse.test/', '--profile', 'pilot', ...common]);
    expect(text.stdout).toContain('the illegal-content tier (illegal:iwf.txt) comes before every profile');
    expect(text.stdout).toContain("uncategorised: block (the profile's default)");

    const report = await runCli([
      'report',
      'pilot',
      '--by',
      'Test Lead',
      '--reason',
      'pastoral concern',
      '--since',
      '1d',
      '--format',
      'json',
      ...common,
    ]);
    expect(report.code).toBe(0);
    const data = JSON.parse(report.stdout) as {
      wouldBlock: number;
      wouldWarn: number;
      sites: { host: string }[];
    };
    expect(data.wouldBlock).toBeGreaterThanOrEqual(2);
    expect(data.wouldWarn).toBeGreaterThanOrEqual(1);
    expect(data.sites.map((x) => x.host).sort()).toEqual(['plain.test', 'social.test']);
  });

  it('`exceptions add` (the CLI, reloading the running proxy) cannot allow an entry', async () => {
    for (const site of ['terror.test', 'social.test']) {
      const added = await runCli([
        'exceptions',
        'add',
        site,
        '--allow',
        '--profile',
        'pupil',
        '--reason',
        'test',
        '--by',
        'IT',
        ...common,
      ]);
      expect(added.code, added.stderr).toBe(0);
    }
    // The running proxy took the entries (social.test was blocked for pupils)...
    const social = await viaProxy(sg.address.port, url('social.test', '/'), {
      headers: { 'proxy-authorization': USERS.pupil },
    });
    expect(social.status).toBe(200);
    // ...and still blocks the tier's entry.
    const res = await viaProxy(sg.address.port, url('terror.test', '/'), {
      headers: { 'proxy-authorization': USERS.pupil },
    });
    expect(res.status).toBe(403);
    expect(res.body).toContain(ILLEGAL_WORDING);
  });

  it('pilot mode inside inspected HTTPS: the tunnel and the page are let through as would-block', async () => {
    const host = `social.test:${httpsOrigin.port}`;
    const m = mark(sg);
    const res = await httpsThroughProxy(sg.address.port, host, {
      ca: schoolCa,
      proxyAuthorization: USERS.pilot,
      requests: [get(host, '/feed')],
    });
    expect(res.body).toBe(HTTPS_BODY);
    expect(rowsSince(sg, m).map((r) => [r.kind, r.action, r.reason])).toEqual([
      ['tunnel', 'would-block', 'inspect:category'],
      ['inspected', 'would-block', 'category'],
    ]);
  });

  it('a reload with a corrupt tier file is refused and the tier in force keeps blocking', async () => {
    writeFileSync(path.join(c.dataDir, 'illegal', 'iwf.txt'), 'abuse.test\n<html>error page</html>\n');
    await expect(sg.reload()).rejects.toThrow(/SG_ILLEGAL_TIER_UNUSABLE|line 2 is not an entry/);
    rmSync(path.join(c.dataDir, 'illegal', 'ctiru.txt'));
    writeTier(c.dataDir, IWF, []);
    rmSync(path.join(c.dataDir, 'illegal', 'ctiru.txt'));
    await expect(sg.reload()).rejects.toThrow(/lose ctiru\.txt/);
    const status = await controlRequest<StatusReport>(c.dataDir, 'status');
    expect(status.illegalTier).toMatchObject({ state: 'loaded' });
    expect(status.illegalTier.sources.map((s) => s.name)).toEqual(['ctiru.txt', 'iwf.txt']);
    expect(status.reloads.last).toMatchObject({ ok: false, code: 'SG_ILLEGAL_TIER_UNUSABLE' });
    const res = await viaProxy(sg.address.port, url('terror.test'), {
      headers: { 'proxy-authorization': USERS.pupil },
    });
    expect(res.status).toBe(403);
    writeTier(c.dataDir, IWF);
    await sg.reload();
  });
});

describe('the whole proxy in pilot mode, inspection off', () => {
  it('lets category blocks through as would-block and still blocks the tier (HTTP and CONNECT)', async () => {
    const c = config({
      httpPorts: [origin.port],
      tunnelPorts: [httpsOrigin.port],
      mode: 'monitor',
      tls: { inspect: false, certsDir: path.join(tempDir(), 'certs') },
    });
    writeTier(c.dataDir, IWF);
    const sg = await startTestProxy(c);
    try {
      const m = mark(sg);
      const social = await viaProxy(sg.address.port, `http://social.test:${origin.port}/`);
      const abuse = await viaProxy(sg.address.port, `http://abuse.test:${origin.port}/`);
      const tunnel = await httpsThroughProxy(sg.address.port, `abuse.test:${httpsOrigin.port}`, {
        ca: [],
        requests: [],
      });
      expect([social.status, abuse.status, tunnel.connectStatus]).toEqual([200, 403, 403]);
      expect(rowsSince(sg, m).map((r) => [r.host, r.kind, r.action, r.reason])).toEqual([
        ['social.test', 'request', 'would-block', 'category'],
        ['abuse.test', 'request', 'block', 'illegal-tier'],
        ['abuse.test', 'tunnel', 'block', 'illegal-tier'],
      ]);
    } finally {
      await sg.stop();
    }
  });
});

describe('a broken tier file at start fails closed', () => {
  it('serves, blocks every request with SG_ILLEGAL_TIER_UNUSABLE, healthz 503, status names the file', async () => {
    const c = config({
      httpPorts: [origin.port],
      illegalContent: { files: ['iwf.txt', 'ctiru.txt'] },
      tls: { inspect: false, certsDir: path.join(tempDir(), 'certs') },
    });
    writeTier(c.dataDir, IWF);
    rmSync(path.join(c.dataDir, 'illegal', 'ctiru.txt')); // a failed sync
    const sg = await startTestProxy(c);
    try {
      const m = mark(sg);
      const res = await viaProxy(sg.address.port, `http://plain.test:${origin.port}/`);
      expect(res.status).toBe(403);
      expect(rowsSince(sg, m)[0]).toMatchObject({ action: 'error', reason: 'SG_ILLEGAL_TIER_UNUSABLE' });
      expect(rowsSince(sg, m)[0]!.note).toContain('ctiru.txt');
      const health = await rawExchange(
        sg.address.port,
        'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      expect(health.status).toBe(503);
      expect(health.body).toContain('illegal-tier-unusable');
      const status = await controlRequest<StatusReport>(c.dataDir, 'status');
      expect(status.illegalTier).toMatchObject({ state: 'unusable', code: 'SG_ILLEGAL_TIER_UNUSABLE' });
      const text = await runCli(['status', '--data', c.dataDir]);
      expect(text.stdout).toMatch(
        /illegal tier +UNUSABLE: EVERY request is BLOCKED \(SG_ILLEGAL_TIER_UNUSABLE\).*ctiru\.txt/,
      );
      // Put the file back and reload: browsing resumes.
      writeTier(c.dataDir, IWF);
      await sg.reload();
      expect((await viaProxy(sg.address.port, `http://plain.test:${origin.port}/`)).status).toBe(200);
    } finally {
      await sg.stop();
    }
  });
});

describe('config check', () => {
  it('refuses a corrupt tier file (exit 1, SG code) and warns when no provider file is loaded', async () => {
    const data = path.join(tempDir(), 'data');
    const none = await runCli(['config', 'check', '--data', data]);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain('no illegal-content lists loaded');
    mkdirSync(path.join(data, 'illegal'), { recursive: true });
    writeFileSync(path.join(data, 'illegal', 'iwf.txt'), 'abuse.test\n\u0000binary\n');
    const corrupt = await runCli(['config', 'check', '--data', data]);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toContain('SG_ILLEGAL_TIER_UNUSABLE');
    // A file whose name would not read back from a row or an alert (`illegal:<file>:<entry>`).
    writeFileSync(path.join(data, 'illegal', 'iwf.txt'), 'abuse.test\n');
    writeFileSync(path.join(data, 'illegal', 'ctiru:2026.txt'), 'terror.test\n');
    const named = await runCli(['config', 'check', '--data', data]);
    expect(named.code).toBe(1);
    expect(named.stderr).toContain('rename the file');
  });
});
