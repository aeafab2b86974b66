/** The CLI as a technician runs it: real files, real SQLite, the compiled binary. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { FIXTURE_PROFILES, tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

let dir: string;
let common: string[];

beforeAll(() => {
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

describe('schoolgate explain', () => {
  it('prints one JSON object a line with the decision and the rule', async () => {
    const r = await runCli([
      'explain',
      '--at',
      '2026-11-10T09:00:00Z',
      'http://m.facebook.com/x',
      'notfacebook.com',
      'https://BLOCKED.example./',
      '--profile',
      'pupil',
      '--json',
      ...common,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      action: 'block',
      categories: ['social'],
      profile: 'pupil',
      flagged: false,
    });
    expect(lines[0].rule).toMatchObject({ kind: 'category', list: 'social', entry: 'facebook.com' });
    expect(lines[1]).toMatchObject({ action: 'allow', categories: [] });
    expect(lines[2]).toMatchObject({ action: 'block', categories: ['adult'], flagged: true });
  });

  it('reads URLs from standard input with "-" and explains in words', async () => {
    const r = await runCli(
      ['explain', '--at', '2026-11-10T09:00:00Z', '-', '--profile', 'staff', ...common],
      {
        input: 'www.youtube.com\n# comment\nbet.test\n',
      },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/www\.youtube\.com\n {2}WARN for profile staff/);
    expect(r.stdout).toMatch(/bet\.test\n {2}BLOCK for profile staff/);
    expect(r.stdout).toContain('gambling');
  });

  it('decides as a user after `users add`, and rejects unknown users and profiles clearly', async () => {
    const add = await runCli(
      ['users', 'add', 'j.smith', '--profile', 'staff', '--password-stdin', ...common],
      {
        input: 'correct horse battery\n',
      },
    );
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('added user j.smith (profile staff, password set)');
    // The fixture config leaves identity.basicAuth off: the user could never sign in, and the command says so.
    expect(add.stderr).toContain('warning: Basic proxy authentication is off');
    expect(add.stderr).toContain(
      `set \`identity: { basicAuth: true }\` in ${path.join(dir, 'config.yaml')} and run \`schoolgate reload\``,
    );
    const asUser = await runCli([
      'explain',
      '--at',
      '2026-11-10T09:00:00Z',
      'facebook.com',
      '--user',
      'j.smith',
      '--json',
      ...common,
    ]);
    expect(JSON.parse(asUser.stdout)).toMatchObject({ action: 'warn', profile: 'staff' });

    const again = await runCli(['users', 'add', 'j.smith', '--profile', 'staff', ...common]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('SG_USER_EXISTS');
    const unknownUser = await runCli([
      'explain',
      '--at',
      '2026-11-10T09:00:00Z',
      'facebook.com',
      '--user',
      'nobody',
      ...common,
    ]);
    expect(unknownUser.code).toBe(1);
    expect(unknownUser.stderr).toContain('SG_USER_UNKNOWN');
    const unknownProfile = await runCli(['users', 'add', 'x', '--profile', 'wizard', ...common]);
    expect(unknownProfile.stderr).toMatch(/SG_PROFILE_UNKNOWN.*wizard/);
    const list = await runCli(['users', 'list', '--json', ...common]);
    expect(JSON.parse(list.stdout)).toEqual([
      { name: 'j.smith', displayName: '', profile: 'staff', disabled: false, hasPassword: true },
    ]);
  });

  it('needs --user or --profile', async () => {
    const r = await runCli(['explain', '--at', '2026-11-10T09:00:00Z', 'facebook.com', ...common]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('explain needs --user NAME or --profile NAME');
  });
});

describe('users add with Basic authentication on', () => {
  it('says nothing about turning it on', async () => {
    const file = path.join(dir, 'basic-auth.yaml');
    writeFileSync(file, `identity: { basicAuth: true }\nprofiles: ${JSON.stringify(FIXTURE_PROFILES)}\n`);
    const r = await runCli(
      ['users', 'add', 'k.jones', '--profile', 'staff', '--password-stdin', ...common, '--config', file],
      { input: 'correct horse battery\n' },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('bad configuration', () => {
  it.each([
    [
      'an unknown key',
      'listen:\n  port: 3128\n  colour: blue\n',
      /listen\.colour \(line 3\): unknown key "colour"/,
    ],
    ['a wrong type', 'listen:\n  port: "eighty"\n', /listen\.port \(line 2\)/],
    [
      'an unknown category in a profile',
      'profiles:\n  guest: {}\n  pupil:\n    categories: { knitting: block }\n',
      /SG_CATEGORY_UNKNOWN.*profiles\.pupil\.categories: no category "knitting"/,
    ],
    [
      'profiles replacing the shipped set without a guest profile',
      'profiles:\n  replace: true\n  pupil: {}\n',
      /identity\.guestProfile: no profile named "guest" \(profiles: pupil\); profiles\.replace is true/,
    ],
    [
      'an unknown category in tls.neverInspect.categories (health sites would be inspected)',
      'tls:\n  neverInspect:\n    categories: [adult, helth]\n',
      /SG_CATEGORY_UNKNOWN.*tls\.neverInspect\.categories\.1: no category "helth"/,
    ],
    [
      'an unknown category in a time window',
      'profiles:\n  staff:\n    timeWindows:\n      - { name: lunch, days: [mon], from: "12:00", to: "13:00", categories: { sosial: allow } }\n',
      /SG_CATEGORY_UNKNOWN.*profiles\.staff\.timeWindows\.0\.categories: no category "sosial"/,
    ],
    [
      "an unknown category in a profile's neverInspect",
      'profiles:\n  pupil:\n    neverInspect: [bankng]\n',
      /SG_CATEGORY_UNKNOWN.*profiles\.pupil\.neverInspect: no category "bankng"/,
    ],
    [
      'an unknown category in alerts.categories',
      'alerts:\n  categories: { extremsm: danger }\n',
      /SG_CATEGORY_UNKNOWN.*alerts\.categories\.extremsm: no category "extremsm"/,
    ],
    [
      'an unknown category in selftest.probes',
      'selftest:\n  probes: { gamblin: [http://bet.test/] }\n',
      /SG_CATEGORY_UNKNOWN.*selftest\.probes\.gamblin: no category "gamblin"/,
    ],
    [
      'a bad explicit entry',
      'profiles:\n  guest:\n    deny: ["exa mple.com"]\n',
      /SG_CONFIG_INVALID.*profiles\.guest\.deny: Entry "exa mple\.com"/,
    ],
    ['a bad CIDR', 'clientNetworks: ["10.0.0.0/33"]\n', /clientNetworks\.0 \(line 1\)/],
    [
      'a network naming no profile',
      'identity:\n  networks:\n    - { cidr: 10.0.0.0/8, profile: wizards }\n',
      /identity\.networks\.0\.profile \(line 3\): no profile named "wizards"/,
    ],
    ['broken YAML', 'listen: [\n', /SG_CONFIG_UNREADABLE/],
  ])('names the field for %s, exits non-zero, starts nothing', async (_what, yaml, message) => {
    const file = path.join(dir, `bad-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, yaml);
    const r = await runCli([
      'config',
      'check',
      file,
      '--data',
      path.join(dir, 'data'),
      '--categories',
      path.join(dir, 'categories'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    const serve = await runCli(['serve', '--config', file, '--data', path.join(dir, 'data'), '--port', '0']);
    expect(serve.code).toBe(1);
    expect(serve.stdout).not.toContain('filtering on');
  });

  it('accepts the built-in defaults with the shipped categories', async () => {
    const r = await runCli(['config', 'check', '--data', path.join(dir, 'data-defaults')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/ok: built-in defaults \(no --config, [^)]*\): 5 profiles, \d+ categories/);
  });
});
