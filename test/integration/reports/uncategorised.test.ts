/**
 * `schoolgate lists uncategorised` over an audit database written through the real store: which hosts
 * count (no category, decided, not a selftest probe, in the period, the profile asked for, more than one
 * request), the user counts without a name, the command printed for each, who may run it (recorded), and
 * the same table in the weekly review.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openSqliteAuditStore, type AuditEvent } from '../../../src/audit/index.js';
import { runCli } from '../../helpers/cli.js';
import { tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';
import { ev, NOV } from './fixture.js';

let config: string;
let otherConfig: string;
const PERIOD = ['--since', '2026-11-02', '--to', '2026-11-06'];

beforeAll(async () => {
  const dir = tempDir('sg-uncat-');
  const dataDir = path.join(dir, 'data');
  const categories = writeFixtureCategories(path.join(dir, 'categories'));
  const me = os.userInfo().username;
  config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    `dataDir: ${dataDir}\ncategoriesDir: ${categories}\ntimeZone: Europe/London\n` +
      `reports:\n  allowedOsUsers: [${JSON.stringify(me)}]\n`,
  );
  otherConfig = path.join(dir, 'other.yaml');
  writeFileSync(
    otherConfig,
    `dataDir: ${dataDir}\ncategoriesDir: ${categories}\ntimeZone: Europe/London\nreports:\n  allowedOsUsers: [dsl]\n`,
  );
  const t = (i: number) => NOV(3, 9, 0, i);
  const events: AuditEvent[] = [
    // new-game.io: 5 requests by 3 people (one of them signed in for no request: counted by address).
    ...['p1', 'p1', 'p2', null, null].map((user, i) =>
      ev({ time: t(i), host: 'new-game.io', user, clientIp: '10.0.0.9' }),
    ),
    // chat-app.example: 3 requests by 1 pupil, one of them blocked by the profile's default.
    ...[0, 1, 2].map((i) =>
      ev({ time: t(10 + i), host: 'chat-app.example', user: 'p3', action: i === 0 ? 'block' : 'allow' }),
    ),
    // staff-tool.example: requested 4 times, by staff.
    ...[0, 1, 2, 3].map((i) =>
      ev({ time: t(20 + i), host: 'staff-tool.example', user: 's1', profile: 'staff' }),
    ),
    // once only: left out.
    ev({ time: t(30), host: 'once.example', user: 'p4' }),
    // matched a category: not uncategorised.
    ...[0, 1, 2].map((i) =>
      ev({ time: t(40 + i), host: 'bet.test', categories: ['gambling'], action: 'block', status: 403 }),
    ),
    // selftest probes, failed logins and rows outside the period are not counted.
    ...[0, 1, 2].map((i) => ev({ time: t(50 + i), host: 'probe.example', selftestRun: 'run-1' })),
    ...[0, 1].map((i) => ev({ time: t(60 + i), host: 'login.example', user: null, action: 'auth-failed' })),
    ...[0, 1].map((i) => ev({ time: NOV(20, 9, 0, i), host: 'later.example' })),
  ];
  const store = openSqliteAuditStore({ path: path.join(dataDir, 'audit.sqlite'), batchMaxRows: 50 });
  await Promise.all(events.map((e) => store.record(e)));
  await store.close();
});

interface Json {
  hosts: { host: string; requests: number; users: number; command: string }[];
}

const cli = (...a: string[]) => runCli(['lists', 'uncategorised', ...PERIOD, ...a]);

describe('lists uncategorised', { timeout: 60_000 }, () => {
  it('lists hosts no category matched, by requests, with user counts and the command for each', async () => {
    const r = await cli('--config', config, '--format', 'json');
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout) as Json;
    expect(j.hosts.map((h) => [h.host, h.requests, h.users])).toEqual([
      ['new-game.io', 5, 3],
      ['staff-tool.example', 4, 1],
      ['chat-app.example', 3, 1],
    ]);
    expect(j.hosts[0]!.command).toBe(
      'schoolgate lists add <category> new-game.io --reason "uncategorised traffic review"',
    );
    expect(r.stdout).not.toMatch(/p1|p2|p3|s1|10\.0\.0/);

    const text = await cli('--config', config);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^\s+1\s+new-game\.io\s+5\s+3\s+2026-11-03 09:00:04$/m);
    expect(text.stdout).toContain(
      '\nschoolgate lists add <category> chat-app.example --reason "uncategorised traffic review"\n',
    );
  });

  it('--profile and --top narrow it', async () => {
    const pupil = JSON.parse(
      (await cli('--config', config, '--format', 'json', '--profile', 'pupil')).stdout,
    ) as Json;
    expect(pupil.hosts.map((h) => h.host)).toEqual(['new-game.io', 'chat-app.example']);
    const top = JSON.parse((await cli('--config', config, '--format', 'json', '--top', '1')).stdout) as Json;
    expect(top.hosts.map((h) => h.host)).toEqual(['new-game.io']);
  });

  it('runs only for an OS user allowed to pull reports, and every run is recorded', async () => {
    const refused = await cli('--config', otherConfig);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('SG_REPORT_REFUSED: lists uncategorised refused: OS user');
    expect(refused.stdout).toBe('');
    const log = await runCli([
      'report',
      'access-log',
      '--config',
      config,
      '--by',
      'IT',
      '--reason',
      'check the runs are recorded',
      '--format',
      'json',
    ]);
    const entries = (JSON.parse(log.stdout) as { entries: { command: string; outcome: string }[] }).entries;
    expect(entries.filter((e) => e.command === 'lists uncategorised').map((e) => e.outcome)).toContain(
      'refused',
    );
    expect(entries.filter((e) => e.command === 'lists uncategorised').map((e) => e.outcome)).toContain(
      'granted',
    );
  });

  it('the weekly review has the same table', async () => {
    const r = await runCli([
      'report',
      'weekly',
      ...PERIOD,
      '--by',
      'DSL',
      '--reason',
      'weekly safeguarding review',
      '--config',
      config,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Most-requested sites no category matched');
    expect(r.stdout).toMatch(/^\s+2\s+staff-tool\.example\s+4\s+1\s/m);
    expect(r.stdout).toContain('schoolgate lists add <category> new-game.io');
  });
});
