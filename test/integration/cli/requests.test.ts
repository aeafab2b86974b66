/**
 * `schoolgate requests` through the compiled CLI (no proxy running): approving a guest's request covers
 * their profile (an address is no person), a decision is never taken twice, and each decision has its
 * admin-changes row and an audit row that verifies in the chain.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import { withState } from '../../../src/state/store.js';
import { runCli } from '../../helpers/cli.js';
import { FIXTURE_PROFILES, tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

let data: string;
let common: string[];

beforeEach(async () => {
  const dir = tempDir();
  const categories = writeFixtureCategories(path.join(dir, 'categories'));
  data = path.join(dir, 'data');
  writeFileSync(path.join(dir, 'config.yaml'), `profiles: ${JSON.stringify(FIXTURE_PROFILES)}\n`);
  common = ['--config', path.join(dir, 'config.yaml'), '--data', data, '--categories', categories];
  await withState(data, (s) => {
    const base = { profile: 'guest', url: 'http://a.example/', blockRef: '', reason: 'homework' };
    s.requests.submit(
      { ...base, subject: 'ip:10.1.2.3', user: null, clientIp: '10.1.2.3', site: 'a.example' },
      Date.now(),
    );
    s.requests.submit(
      { ...base, subject: 'user:jo', user: 'jo', clientIp: '10.1.2.4', site: 'b.example' },
      Date.now(),
    );
  });
});

const cli = (...args: string[]) => runCli([...args, ...common]);

describe('requests approve / deny', { timeout: 90_000 }, () => {
  it("approves a guest's request for their profile, once, with its rows", async () => {
    const list = await cli('requests', 'list');
    expect(list.stdout).toContain('(not signed in, 10.1.2.3) (guest) a.example: "homework" [waiting]');
    const ok = await cli('requests', 'approve', '1', '--by', 'IT', '--json');
    expect(ok.code, ok.stderr).toBe(0);
    const out = JSON.parse(ok.stdout.trim().split('\n').at(-1)!) as {
      exception: { scope: unknown; origin: string; expiresAt: string | null; createdBy: string };
    };
    expect(out.exception).toMatchObject({
      scope: { kind: 'profile', name: 'guest' },
      origin: 'request:1',
      expiresAt: null,
      createdBy: 'IT',
    });
    const again = await cli('requests', 'approve', '1', '--by', 'IT');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('was already approved');
    expect((await cli('requests', 'deny', '9', '--by', 'IT')).stderr).toContain('no unblock request 9');
    expect((await cli('requests', 'deny', '2')).stderr).toContain('--by is required');
    expect((await cli('requests', 'deny', '2', '--by', 'IT', '--note', 'no')).code).toBe(0);
    expect((await cli('requests', 'list')).stdout).toContain('no waiting unblock requests');

    const db = new Database(path.join(data, 'audit.sqlite'), { readonly: true });
    const rows = db
      .prepare('SELECT action, username, client_ip, host, note FROM audit_events ORDER BY seq')
      .all();
    db.close();
    expect(rows).toEqual([
      { action: 'unblock-approved', username: null, client_ip: '10.1.2.3', host: 'a.example', note: 'by IT' },
      {
        action: 'unblock-denied',
        username: 'jo',
        client_ip: '10.1.2.4',
        host: 'b.example',
        note: 'by IT: no',
      },
    ]);
    expect((await cli('audit', 'verify')).code).toBe(0);
    const changes = JSON.parse((await cli('changes', '--json')).stdout) as { action: string }[];
    expect(changes.map((c) => c.action)).toEqual(['exceptions.add', 'requests.approve', 'requests.deny']);
  });
});
