/**
 * `schoolgate exceptions` end to end: the compiled CLI against a temporary data directory (real files, real
 * SQLite), the migration of the old per-profile files, and a running proxy on loopback whose test clock
 * passes an exception's end (no reload in between).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { addException } from '../../../src/state/exceptions.js';
import { withState } from '../../../src/state/store.js';
import { runCli } from '../../helpers/cli.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { basic, viaProxy } from '../../helpers/raw-http.js';
import {
  FIXTURE_PROFILES,
  startTestProxy,
  tempDir,
  testConfig,
  writeFixtureCategories,
} from '../../helpers/schoolgate.js';

let dir: string;
let data: string;
let common: string[];

async function cli(...args: string[]) {
  return runCli([...args, ...common]);
}

async function json<T = unknown>(...args: string[]): Promise<T> {
  const r = await cli(...args, '--json');
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}

interface Listed {
  id: number;
  site: string;
  action: string;
  scope: { kind: string; name?: string };
  reason: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  origin: string;
  removedAt: string | null;
}

beforeEach(() => {
  dir = tempDir();
  const categories = writeFixtureCategories(path.join(dir, 'categories'));
  data = path.join(dir, 'data');
  writeFileSync(
    path.join(dir, 'config.yaml'),
    `timeZone: Europe/London\nprofiles: ${JSON.stringify(FIXTURE_PROFILES)}\n`,
  );
  common = ['--config', path.join(dir, 'config.yaml'), '--data', data, '--categories', categories];
});

describe('exceptions add / list / remove', { timeout: 240_000 }, () => {
  it('adds exceptions for a user, a profile and everyone, explains them, records and removes them', async () => {
    const user = await cli(
      'exceptions',
      'add',
      'facebook.com',
      '--allow',
      '--user',
      'jo',
      '--expires',
      '2w',
      '--reason',
      'supervised project',
      '--by',
      'Mr Jones',
    );
    expect(user.code).toBe(0);
    // jo is in no users table here: the exception is kept, with a warning that it waits for that name.
    expect(user.stderr).toContain('no user or device user named "jo"');
    expect(user.stdout).toMatch(/added +1 allow facebook\.com for user jo, until 20\d\d-/);
    await cli(
      'exceptions',
      'add',
      'facebook.com',
      '--block',
      '--profile',
      'staff',
      '--reason',
      'HT',
      '--by',
      'IT',
    );
    await cli('exceptions', 'add', 'game.example/x', '--block', '--everyone', '--reason', 'r', '--by', 'IT');

    const listed = await json<Listed[]>('exceptions', 'list');
    expect(listed.map((e) => [e.id, e.action, e.site, e.scope, e.createdBy, e.reason])).toEqual([
      [1, 'allow', 'facebook.com', { kind: 'user', name: 'jo' }, 'Mr Jones', 'supervised project'],
      [2, 'block', 'facebook.com', { kind: 'profile', name: 'staff' }, 'IT', 'HT'],
      [3, 'block', 'game.example/x', { kind: 'everyone' }, 'IT', 'r'],
    ]);
    const fortnight = Date.parse(listed[0]!.expiresAt!) - Date.parse(listed[0]!.createdAt);
    expect(fortnight).toBe(14 * 86_400_000);
    expect(listed[1]!.expiresAt).toBeNull();

    // explain: which exception decided and when it ends; jo's own beats the everyone-less pupil profile.
    const forJo = await cli('explain', 'https://www.facebook.com/', '--profile', 'pupil');
    expect(forJo.stdout).toContain('BLOCK for profile pupil'); // not jo: the user exception does not apply
    const users = new UserStore(data);
    await users.add({ name: 'jo', profile: 'pupil', password: 'pw-jo-123456' });
    users.close();
    const explained = await json<{ action: string; rule: { kind: string }; exception: Listed }>(
      'explain',
      'https://www.facebook.com/',
      '--user',
      'jo',
    );
    expect(explained).toMatchObject({ action: 'allow', rule: { kind: 'exception-allow' } });
    expect(explained.exception).toMatchObject({
      id: 1,
      expiresAt: listed[0]!.expiresAt,
      reason: 'supervised project',
    });
    const text = await cli('explain', 'https://www.facebook.com/', '--user', 'jo');
    expect(text.stdout).toContain(
      `exception:  1: allow facebook.com for user jo, ends ${listed[0]!.expiresAt}`,
    );
    expect(text.stdout).toContain('added by Mr Jones');

    const removed = await cli('exceptions', 'remove', '1', '--by', 'IT', '--reason', 'project over');
    expect(removed.code).toBe(0);
    expect((await json<{ action: string }>('explain', 'https://facebook.com/', '--user', 'jo')).action).toBe(
      'block',
    );
    expect((await json<Listed[]>('exceptions', 'list')).map((e) => e.id)).toEqual([2, 3]);
    const all = await json<Listed[]>('exceptions', 'list', '--all');
    expect(all[0]).toMatchObject({ id: 1, removedAt: expect.any(String) });

    const changes = await json<{ action: string; target: string; by: string; reason: string | null }[]>(
      'changes',
      '--action',
      'exceptions',
    );
    expect(changes.map((c) => [c.action, c.target, c.by, c.reason])).toEqual([
      ['exceptions.add', 'exception 1: allow facebook.com for user jo', 'Mr Jones', 'supervised project'],
      ['exceptions.add', 'exception 2: block facebook.com for profile staff', 'IT', 'HT'],
      ['exceptions.add', 'exception 3: block game.example/x for everyone', 'IT', 'r'],
      ['exceptions.remove', 'exception 1: allow facebook.com for user jo', 'IT', 'project over'],
    ]);
  });

  it.each<[string, string[], RegExp]>([
    ['no action', ['x.example', '--everyone'], /SG_ARGUMENT_INVALID.*--allow or --block/],
    ['both actions', ['x.example', '--allow', '--block', '--everyone'], /cannot be used with/],
    ['no scope', ['x.example', '--allow'], /SG_ARGUMENT_INVALID.*--user, --profile, --everyone/],
    ['unknown profile', ['x.example', '--allow', '--profile', 'wizard'], /SG_PROFILE_UNKNOWN/],
    ['a scheme', ['https://x.example', '--allow', '--everyone'], /SG_ENTRY_INVALID/],
    [
      'no reason',
      ['x.example', '--allow', '--everyone', '--by', 'IT'],
      /SG_ARGUMENT_INVALID: --reason is required/,
    ],
    [
      'no author',
      ['x.example', '--allow', '--everyone', '--reason', 'r'],
      /SG_ARGUMENT_INVALID: --by is required/,
    ],
    [
      'an end in the past',
      ['x.example', '--allow', '--everyone', '--expires', '2020-01-01'],
      /not in the future/,
    ],
    [
      'an end that is no date',
      ['x.example', '--allow', '--everyone', '--expires', 'soon'],
      /not a span or a date/,
    ],
  ])('refuses %s, changing nothing', async (_name, args, error) => {
    const withDefaults =
      args.includes('--reason') || args.includes('--by') ? args : [...args, '--reason', 'r', '--by', 'IT'];
    const r = await cli('exceptions', 'add', ...withDefaults);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(error);
    expect(await json<unknown[]>('exceptions', 'list', '--all')).toEqual([]);
  });

  it('refuses to remove an exception that is not in force', async () => {
    await cli('exceptions', 'add', 'x.example', '--allow', '--everyone', '--reason', 'r', '--by', 'IT');
    expect((await cli('exceptions', 'remove', '1', '--by', 'IT')).code).toBe(0);
    const again = await cli('exceptions', 'remove', '1', '--by', 'IT');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('SG_EXCEPTION_UNKNOWN');
    expect((await cli('exceptions', 'remove', '9', '--by', 'IT')).stderr).toContain('SG_EXCEPTION_UNKNOWN');
    expect((await cli('exceptions', 'remove', '1')).stderr).toContain('--by is required');
  });
});

describe('the old per-profile files', { timeout: 90_000 }, () => {
  it('are migrated once into profile exceptions with no end, recorded, and kept readable', async () => {
    const folder = path.join(data, 'categories.local', 'profiles', 'pupil');
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(folder, 'allow'), '# GCSE\nfacebook.com/groups/school\n', { mode: 0o600 });
    writeFileSync(path.join(folder, 'deny'), 'Game.Example\n', { mode: 0o600 });
    const listed = await json<Listed[]>('exceptions', 'list');
    expect(listed.map((e) => [e.action, e.site, e.scope, e.expiresAt, e.origin])).toEqual([
      ['allow', 'facebook.com/groups/school', { kind: 'profile', name: 'pupil' }, null, 'migrated'],
      ['block', 'game.example', { kind: 'profile', name: 'pupil' }, null, 'migrated'],
    ]);
    expect(existsSync(path.join(folder, 'allow'))).toBe(false);
    expect(readFileSync(path.join(folder, 'allow.migrated'), 'utf8')).toContain('facebook.com/groups/school');
    // Migrated once: a second command adds nothing.
    expect(await json<Listed[]>('exceptions', 'list')).toHaveLength(2);
    const explained = await json<{ action: string; rule: { kind: string } }>(
      'explain',
      'https://facebook.com/groups/school/x',
      '--profile',
      'pupil',
    );
    expect(explained).toMatchObject({ action: 'allow', rule: { kind: 'exception-allow' } });
    const changes = await json<{ action: string; by: string }[]>('changes', '--action', 'exceptions');
    expect(changes.map((c) => [c.action, c.by])).toEqual([
      ['exceptions.migrate', 'schoolgate (migration)'],
      ['exceptions.migrate', 'schoolgate (migration)'],
    ]);
  });

  it('with an invalid line refuse the migration, naming file and line', async () => {
    const folder = path.join(data, 'categories.local', 'profiles', 'pupil');
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'allow'), 'ok.example\nbad..example\n');
    const r = await cli('exceptions', 'list');
    expect(r.stderr).toMatch(/SG_CATEGORY_INVALID.*profiles\/pupil\/allow:2/);
    expect(existsSync(path.join(folder, 'allow'))).toBe(true);
  });
});

describe('a running proxy', { timeout: 90_000 }, () => {
  let origin: Origin;
  let sg: RunningSchoolgate;
  afterAll(async () => {
    await sg?.stop();
    await origin?.close();
  });

  it('stops applying an exception at its end by its own clock, with no reload', async () => {
    origin = await startOrigin();
    const config = testConfig({
      httpPorts: [origin.port],
      identity: { basicAuth: true, requireAuth: false },
    });
    const users = new UserStore(config.dataDir);
    await users.add({ name: 'jo', profile: 'pupil', password: 'pw-jo-123456' });
    users.close();
    let now = Date.parse('2026-03-02T10:00:00Z');
    const end = now + 3_600_000;
    await withState(config.dataDir, (s) =>
      addException(s, {
        site: 'social.test',
        action: 'allow',
        scope: { kind: 'user', name: 'jo' },
        reason: 'project',
        by: 'IT',
        expiresAt: new Date(end),
      }),
    );
    sg = await startTestProxy(config, { now: () => new Date(now) });
    const get = (who?: string) =>
      viaProxy(sg.address.port, `http://social.test:${origin.port}/`, {
        headers: who ? { 'proxy-authorization': basic(who, 'pw-jo-123456') } : {},
      });
    expect((await get('jo')).status).toBe(200);
    expect((await get()).status).toBe(403); // a guest: jo's exception is jo's alone
    now = end - 1;
    expect((await get('jo')).status).toBe(200);
    now = end;
    const after = await get('jo');
    expect(after.status).toBe(403);
    expect(after.body).toContain('Social networking');
  });
});
