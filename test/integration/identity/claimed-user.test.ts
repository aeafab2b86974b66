/**
 * A failed proxy login is stored with the name it claimed in its own column, never as the user (issue 11
 * item 4): `report user staff1` counts only what staff1 did, and lists the attempts made under the name
 * apart; the rows still verify in the hash chain.
 */
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import type { ReadonlyConfig } from '../../../src/config/load.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { runCli } from '../../helpers/cli.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { basic, viaProxy } from '../../helpers/raw-http.js';
import { startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';

let dir: string;
let origin: Origin;
let config: ReadonlyConfig;
let sg: RunningSchoolgate;
let cli: string[];

beforeAll(async () => {
  dir = tempDir('sg-claimed-');
  origin = await startOrigin();
  config = testConfig({ httpPorts: [origin.port], identity: { basicAuth: true, requireAuth: true } }, dir);
  const users = new UserStore(config.dataDir);
  await users.add({ name: 'staff1', profile: 'staff', password: 'staff-password' });
  users.close();
  const configFile = path.join(dir, 'cli.yaml');
  writeFileSync(
    configFile,
    `dataDir: ${config.dataDir}\ncategoriesDir: ${config.categoriesDir}\n` +
      `reports:\n  allowedOsUsers: [${JSON.stringify(os.userInfo().username)}]\n`,
  );
  cli = ['--config', configFile];
  sg = await startTestProxy(config);
});
afterAll(async () => {
  await sg?.stop();
  await origin?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a failed login claiming staff1', () => {
  it('is recorded under claimed_user, not as staff1, and staff1’s report does not count it', async () => {
    const url = `http://allowed.test:${origin.port}/`;
    const ok = await viaProxy(sg.address.port, url, {
      headers: { 'proxy-authorization': basic('staff1', 'staff-password') },
    });
    expect(ok.status).toBe(200);
    const wrong = await viaProxy(sg.address.port, url, {
      headers: { 'proxy-authorization': basic('staff1', 'a-guess') },
    });
    expect(wrong.status).toBe(407);
    await sg.stop();

    const db = new Database(sg.auditPath, { readonly: true });
    const rows = db
      .prepare('SELECT action, username, claimed_user, profile FROM audit_events ORDER BY rowid')
      .all();
    db.close();
    expect(rows).toEqual([
      { action: 'allow', username: 'staff1', claimed_user: null, profile: 'staff' },
      { action: 'auth-failed', username: null, claimed_user: 'staff1', profile: null },
    ]);

    const opened = await runCli(['case', 'open', 'C-7', '--subject', 'staff1', '--by', 'A. Head', ...cli]);
    expect(opened.code, opened.stderr).toBe(0);
    const report = await runCli([
      'report',
      'user',
      'staff1',
      ...['--case', 'C-7', '--by', 'A. Head', '--reason', 'pastoral concern', '--format', 'json'],
      ...cli,
    ]);
    expect(report.code, report.stderr).toBe(0);
    const data = JSON.parse(report.stdout) as {
      summary: { requests: number; byAction: Record<string, number> };
      claimedLogins: { attempts: number; addresses: { clientIp: string; attempts: number }[] };
      verification: { ok: boolean; checked: number };
    };
    expect(data.summary.requests).toBe(1);
    expect(data.summary.byAction).toEqual({ allow: 1 });
    expect(data.claimedLogins).toMatchObject({
      attempts: 1,
      addresses: [{ clientIp: '127.0.0.1', attempts: 1 }],
    });
    expect(data.verification).toMatchObject({ ok: true, checked: 1 });

    const verify = await runCli(['audit', 'verify', '--json', ...cli]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, rows: 2 });
  });
});
