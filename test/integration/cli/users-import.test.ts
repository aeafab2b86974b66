/**
 * `schoolgate users import` with the school export fixtures, through the compiled CLI and a real state
 * database: a dry run changes nothing and gives the same summary the import then applies; skipped rows are
 * counted by reason; --map and identity.importMap pick the profiles; every change is in the record.
 */
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { cliFolder, runCli } from '../../helpers/cli.js';
import { FIXTURE_PROFILES, tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../fixtures/users-import/${name}`, import.meta.url));

let common: string[];

beforeEach(() => {
  ({ args: common } = cliFolder(
    { profiles: FIXTURE_PROFILES, identity: { importMap: { '/Staff': 'staff' } } },
    { tempDir, categories: writeFixtureCategories },
  ));
});

const cli = (args: string[]) => runCli([...args, ...common]);
const json = async <T>(args: string[]): Promise<T> =>
  JSON.parse((await cli([...args, '--json'])).stdout) as T;

interface Summary {
  dryRun: boolean;
  format: string;
  add: number;
  update: number;
  unchanged: number;
  skipped: number;
  skippedBy: Record<string, { count: number; groups?: string[] }>;
}

describe('users import from school exports', { timeout: 90_000 }, () => {
  it('google: a dry run, then the import; config map plus --map; suspended and unmapped skipped', async () => {
    const args = ['users', 'import', fixture('google.csv'), '--map', '/Pupils=pupil'];
    const dry = await json<Summary>([...args, '--dry-run']);
    expect(dry).toMatchObject({
      dryRun: true,
      format: 'google',
      add: 2,
      update: 0,
      skipped: 2,
      skippedBy: { inactive: { count: 1 }, 'group-not-mapped': { count: 1, groups: ['/'] } },
    });
    expect(await json<unknown[]>(['users', 'list'])).toEqual([]);

    const done = await cli([...args, '--reason', 'September intake', '--by', 'IT']);
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('google: 2 to add, 0 to update, 0 unchanged, 2 skipped');
    expect(done.stdout).toContain('skipped group-not-mapped: 1 (/)');
    expect(done.stdout).toMatch(
      /skip line 4 k\.moss@school\.example: inactive \(suspended in Google Workspace\)/,
    );
    const users = await json<{ name: string; profile: string; displayName: string }[]>(['users', 'list']);
    expect(users.map((u) => [u.name, u.profile, u.displayName])).toEqual([
      ['i.king@school.example', 'pupil', 'Ivy King'],
      ['j.lee@school.example', 'staff', 'Jack Lee'],
    ]);
    const changes = await json<{ action: string; by: string; reason: string }[]>(['changes']);
    expect(changes).toHaveLength(2);
    expect(changes.every((c) => c.action === 'users.import' && c.by === 'IT')).toBe(true);

    // Again: nothing to do. With a new mapping: an update.
    expect(await json<Summary>(args)).toMatchObject({ add: 0, update: 0, unchanged: 2 });
    expect(await json<Summary>([...args, '--map', '/Pupils/Year 11=staff'])).toMatchObject({ update: 1 });
  });

  it.each([
    ['sims.csv', ['--map', 'Year 7=pupil', '--map', 'Year 8=pupil'], 'sims', 2, 2],
    ['arbor.csv', ['--map', 'Year 9=pupil'], 'arbor', 2, 1],
    ['bromcom.csv', ['--map', 'Year 10=pupil'], 'bromcom', 2, 2],
    ['m365.csv', ['--map', 'Science=staff', '--map', 'Year 7=pupil'], 'm365', 2, 2],
  ])('%s with %j', async (file, map, format, add, skipped) => {
    const r = await json<Summary>(['users', 'import', fixture(file), ...map]);
    expect(r).toMatchObject({ format, add, skipped });
    expect(await json<unknown[]>(['users', 'list'])).toHaveLength(add);
  });

  it('--format overrides detection; a bad --map or an unknown profile is refused before anything changes', async () => {
    const asArbor = await cli(['users', 'import', fixture('sims.csv'), '--format', 'arbor', '--dry-run']);
    expect(asArbor.code).toBe(0);
    expect(asArbor.stdout).toContain('arbor:');
    const bad = await cli(['users', 'import', fixture('sims.csv'), '--map', 'Year 7']);
    expect(bad.stderr).toMatch(/SG_ARGUMENT_INVALID: --map "Year 7": expected GROUP=PROFILE/);
    const unknown = await cli(['users', 'import', fixture('sims.csv'), '--map', 'Year 7=wizard']);
    expect(unknown.stderr).toMatch(/SG_PROFILE_UNKNOWN/);
    const format = await cli(['users', 'import', fixture('sims.csv'), '--format', 'csv']);
    expect(format.code).not.toBe(0);
    expect(await json<unknown[]>(['users', 'list'])).toEqual([]);
  });
});
