/**
 * `schoolgate users|networks|devices|changes` end to end: the compiled CLI, a temporary data directory,
 * real SQLite. Bad input gives a clear message and changes nothing; every change is in `changes`.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { FIXTURE_PROFILES, tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

let dir: string;
let common: string[];

beforeEach(() => {
  dir = tempDir();
  const categories = writeFixtureCategories(path.join(dir, 'categories'));
  writeFileSync(path.join(dir, 'config.yaml'), `profiles: ${JSON.stringify(FIXTURE_PROFILES)}\n`);
  common = [
    '--config',
    path.join(dir, 'config.yaml'),
    '--data',
    path.join(dir, 'data'),
    '--categories',
    categories,
  ];
});

const cli = (args: string[], input?: string) =>
  runCli([...args, ...common], input === undefined ? {} : { input });
const json = async <T>(args: string[]): Promise<T> =>
  JSON.parse((await cli([...args, '--json'])).stdout) as T;

function stateRows(table: string): number {
  const db = new Database(path.join(dir, 'data', 'state.sqlite'), { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('users', { timeout: 300_000 }, () => {
  it('disable, enable, passwd and remove, each recorded with before/after, reason and --by', async () => {
    expect(
      (await cli(['users', 'add', 'j.smith', '--profile', 'staff', '--display-name', 'Jo Smith'])).code,
    ).toBe(0);
    expect(
      (await cli(['users', 'disable', 'j.smith', '--reason', 'account sharing', '--by', 'Head'])).stdout,
    ).toBe('disabled user j.smith\n');
    expect((await json<{ disabled: boolean }[]>(['users', 'list']))[0]!.disabled).toBe(true);
    await cli(['users', 'enable', 'j.smith']);
    const pw = await cli(['users', 'passwd', 'j.smith'], 'a-longer-password\n');
    expect(pw.stdout).toBe('password set for j.smith\n');
    const short = await cli(['users', 'passwd', 'j.smith'], 'short\n');
    expect(short.stderr).toMatch(/SG_ARGUMENT_INVALID: the password must have at least 8 characters/);
    expect((await cli(['users', 'remove', 'nobody'])).stderr).toContain('SG_USER_UNKNOWN');
    await cli(['users', 'remove', 'j.smith', '--reason', 'left']);
    expect(await json<unknown[]>(['users', 'list'])).toEqual([]);

    const changes = await json<
      {
        action: string;
        by: string | null;
        osUser: string;
        reason: string | null;
        before: unknown;
        after: unknown;
      }[]
    >(['changes']);
    expect(changes.map((c) => c.action)).toEqual([
      'users.add',
      'users.disable',
      'users.enable',
      'users.passwd',
      'users.remove',
    ]);
    expect(changes[1]).toMatchObject({
      by: 'Head',
      reason: 'account sharing',
      before: { disabled: false },
      after: { disabled: true },
    });
    expect(changes[1]!.osUser).not.toBe('');
    expect(changes[3]).toMatchObject({ before: { hasPassword: false }, after: { hasPassword: true } });
    expect(JSON.stringify(changes)).not.toContain('scrypt');
    const text = await cli(['changes', '--action', 'users.disable']);
    expect(text.stdout).toMatch(/users\.disable +user j\.smith\n {4}before: .*\n {4}reason: account sharing/);
    expect((await cli(['changes', '--since', 'yesterday'])).stderr).toContain('SG_ARGUMENT_INVALID: --since');
    expect(await json<unknown[]>(['changes', '--since', '2999-01-01'])).toEqual([]);
    expect((await json<unknown[]>(['changes', '--since', '1h'])).length).toBe(5);
  });

  it('imports a CSV (dry run first), updates existing users, and a bad row changes nothing', async () => {
    await cli(['users', 'add', 'a.pupil', '--profile', 'pupil']);
    const csv = path.join(dir, 'mis.csv');
    writeFileSync(
      csv,
      'username,display name,profile,password\na.pupil,"Pupil, A",staff\nb.pupil,B Pupil,pupil,long-enough-1\n"c.pupil","C ""Cee"" Pupil",pupil\n',
    );
    const dry = await json<{ dryRun: boolean; add: number; update: number }>([
      'users',
      'import',
      csv,
      '--dry-run',
    ]);
    expect(dry).toMatchObject({ dryRun: true, add: 2, update: 1 });
    expect((await json<unknown[]>(['users', 'list'])).length).toBe(1);
    const done = await cli(['users', 'import', csv, '--reason', 'September intake']);
    expect(done.stdout).toContain('2 to add, 1 to update, 0 unchanged');
    const users = await json<{ name: string; displayName: string; profile: string; hasPassword: boolean }[]>([
      'users',
      'list',
    ]);
    expect(users).toEqual([
      { name: 'a.pupil', displayName: 'Pupil, A', profile: 'staff', disabled: false, hasPassword: false },
      { name: 'b.pupil', displayName: 'B Pupil', profile: 'pupil', disabled: false, hasPassword: true },
      {
        name: 'c.pupil',
        displayName: 'C "Cee" Pupil',
        profile: 'pupil',
        disabled: false,
        hasPassword: false,
      },
    ]);

    const changesBefore = stateRows('admin_changes');
    for (const [row, message] of [
      ['d.pupil,D,wizard', /mis-bad\.csv:3: no profile named "wizard"/],
      ['d pupil,D,pupil', /mis-bad\.csv:3: user name "d pupil" is not allowed/],
      ['d.pupil,D', /mis-bad\.csv:3: expected 3 or 4 columns, found 2/],
      ['d.pupil,D,pupil,short', /fewer than 8 characters/],
      ['"d.pupil,D,pupil', /unbalanced quotes/],
    ] as const) {
      const bad = path.join(dir, 'mis-bad.csv');
      writeFileSync(bad, `e.pupil,E,pupil\n\n${row}\n`);
      const r = await cli(['users', 'import', bad]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/SG_CSV_INVALID/);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('nothing was changed');
    }
    expect((await json<unknown[]>(['users', 'list'])).length).toBe(3);
    expect(stateRows('admin_changes')).toBe(changesBefore);
    const missing = await cli(['users', 'import', path.join(dir, 'none.csv')]);
    expect(missing.stderr).toMatch(/SG_FILE_UNREADABLE/);
  });
});

describe('networks and devices', { timeout: 300_000 }, () => {
  it('adds, lists and removes them; bad input changes nothing', async () => {
    const add = await cli([
      'networks',
      'add',
      '10.20.5.7/16',
      '--profile',
      'pupil',
      '--name',
      'Year 7',
      '--reason',
      'new VLAN',
    ]);
    expect(add.stdout).toContain('network 10.20.0.0/16 → profile pupil');
    expect(await json<unknown[]>(['networks', 'list'])).toEqual([
      { cidr: '10.20.0.0/16', profile: 'pupil', name: 'Year 7', source: 'cli' },
    ]);
    expect((await cli(['networks', 'add', '10.20.0.0/16', '--profile', 'staff'])).stderr).toContain(
      'already mapped',
    );
    expect((await cli(['networks', 'add', '10.0.0.0/33', '--profile', 'staff'])).stderr).toMatch(
      /SG_NETWORK_INVALID: "10\.0\.0\.0\/33" is not a network/,
    );
    expect((await cli(['networks', 'add', '10.9.0.0/16', '--profile', 'wizard'])).stderr).toContain(
      'SG_PROFILE_UNKNOWN',
    );
    expect(stateRows('networks')).toBe(1);

    await cli(['users', 'add', 'j.smith', '--profile', 'staff']);
    const dev = await cli(['devices', 'add', '10.20.3.17', '--name', 'JS laptop', '--user', 'j.smith']);
    expect(dev.code).toBe(0);
    expect((await cli(['devices', 'add', '10.20.3.18', '--name', 'x', '--user', 'nobody'])).stderr).toContain(
      'SG_USER_UNKNOWN',
    );
    expect((await cli(['devices', 'add', '10.20.3', '--name', 'x'])).stderr).toContain(
      'is not an IP address',
    );
    expect(await json<unknown[]>(['devices', 'list'])).toEqual([
      { address: '10.20.3.17', name: 'JS laptop', user: 'j.smith', source: 'cli' },
    ]);
    expect((await cli(['devices', 'remove', '10.20.3.99'])).stderr).toContain('not in the devices table');
    await cli(['devices', 'remove', '10.20.3.17']);
    await cli(['networks', 'remove', '10.20.0.0/16']);
    expect(stateRows('networks') + stateRows('devices')).toBe(0);
    const actions = (await json<{ action: string }[]>(['changes', '--action', 'n'])).map((c) => c.action);
    expect(actions).toEqual(['networks.add', 'networks.remove']);
  });
});
