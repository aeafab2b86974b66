/**
 * Who may see what under a case (issue 10 item 2), through the real CLI over the fixture database: a case
 * names subjects that exist, a report under it is granted only for them (refusals recorded), a domain
 * report under it shows only their rows, and a name that is no user is "no such user", not an empty report.
 */
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserStore } from '../../../src/identity/user-store.js';
import { runCli } from '../../helpers/cli.js';
import { buildFixture, type Fixture } from './fixture.js';

let f: Fixture;
let c: string[];
const PERIOD = ['--from', '2026-11-02', '--to', '2026-11-06'];

beforeAll(async () => {
  f = await buildFixture();
  c = ['--config', f.config];
  const users = new UserStore(f.dataDir);
  await users.add({ name: 'pupil1', profile: 'pupil' });
  await users.add({ name: 'pupil2', profile: 'pupil' });
  users.close();
  const opened = await runCli(['case', 'open', 'S-1', '--subject', 'pupil1', '--by', 'A. Head', ...c]);
  expect(opened.code, opened.stderr).toBe(0);
});

afterAll(() => rmSync(f.dir, { recursive: true, force: true }));

function lastAccess(): { command: string; subject: string | null; outcome: string; reason: string | null } {
  const db = new Database(f.dbPath, { readonly: true });
  try {
    return db.prepare('SELECT * FROM report_access ORDER BY id DESC LIMIT 1').get() as never;
  } finally {
    db.close();
  }
}

function caseRefs(): string[] {
  const db = new Database(f.dbPath, { readonly: true });
  try {
    return db.prepare('SELECT ref FROM cases ORDER BY ref').pluck().all() as string[];
  } finally {
    db.close();
  }
}

describe('case open names subjects that exist', () => {
  it.each([
    ['a name that is no user', ['--subject', 'k.jones'], 'no such user "k.jones"', null],
    ['a mis-cased name', ['--subject', 'Pupil1'], 'no such user "Pupil1"', 'did you mean pupil1?'],
    [
      'a device that is not in the devices table',
      ['--subject-device', 'lab-3'],
      'no such device "lab-3"',
      null,
    ],
  ])(
    'refuses %s with SG_SUBJECT_UNKNOWN, records the refusal, and opens nothing',
    async (_, args, said, hint) => {
      const before = caseRefs();
      const r = await runCli(['case', 'open', 'X-1', ...args, '--by', 'A. Head', ...c]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('SG_SUBJECT_UNKNOWN');
      expect(r.stderr).toContain(said);
      if (hint) expect(r.stderr).toContain(hint);
      expect(caseRefs()).toEqual(before);
      expect(lastAccess()).toMatchObject({ command: 'case open', outcome: 'refused' });
    },
  );

  it('refuses a case with no subject at all, and an address that is not one', async () => {
    const none = await runCli(['case', 'open', 'X-2', '--by', 'A. Head', ...c]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('names no subject');
    const bad = await runCli([
      'case',
      'open',
      'X-3',
      '--subject-address',
      '10.0.0.256',
      '--by',
      'A. Head',
      ...c,
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('is not an IP address');
    expect(caseRefs()).not.toContain('X-2');
    expect(caseRefs()).not.toContain('X-3');
  });

  it('accepts users (also one known only from the audit log), and an address in its canonical form', async () => {
    const r = await runCli([
      'case',
      'open',
      'S-2',
      '--subject',
      'pupil1',
      '--subject',
      'pupil3', // no account any more, but rows in the log
      '--subject-address',
      '::ffff:10.0.0.77',
      '--by',
      'A. Head',
      ...c,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('pupil1, pupil3, address 10.0.0.77');
  });
});

describe('a report under a case covers only its subjects', () => {
  it('refuses report user for someone the case is not about, and records the refusal', async () => {
    const r = await runCli([
      'report',
      'user',
      'pupil2',
      ...PERIOD,
      '--case',
      'S-1',
      '--by',
      'A. Head',
      '--reason',
      'pastoral concern',
      ...c,
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('SG_REPORT_REFUSED');
    expect(r.stderr).toContain('not a subject of case S-1');
    expect(r.stdout).toBe('');
    expect(lastAccess()).toMatchObject({ command: 'report user', subject: 'pupil2', outcome: 'refused' });
    const granted = await runCli([
      'report',
      'user',
      'pupil1',
      ...PERIOD,
      '--case',
      'S-1',
      '--by',
      'A. Head',
      '--reason',
      'pastoral concern',
      ...c,
    ]);
    expect(granted.code, granted.stderr).toBe(0);
  });

  it('refuses report around a row of someone else', async () => {
    const db = new Database(f.dbPath, { readonly: true });
    const other = db.prepare(`SELECT id FROM audit_events WHERE username = 'pupil2' LIMIT 1`).pluck().get();
    db.close();
    const r = await runCli([
      'report',
      'around',
      String(other),
      '--case',
      'S-1',
      '--by',
      'A. Head',
      '--reason',
      'pastoral concern',
      ...c,
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('not a subject of case S-1');
    expect(lastAccess()).toMatchObject({ command: 'report around', subject: 'pupil2', outcome: 'refused' });
    const own = await runCli([
      'report',
      'around',
      f.ids['adult']!,
      '--case',
      'S-1',
      '--by',
      'A. Head',
      '--reason',
      'pastoral concern',
      ...c,
    ]);
    expect(own.code, own.stderr).toBe(0);
  });

  it('shows only the subjects’ rows in a domain report under the case', async () => {
    const r = await runCli([
      'report',
      'domain',
      'bet.test',
      ...PERIOD,
      '--case',
      'S-1',
      '--by',
      'A. Head',
      '--reason',
      'pastoral concern',
      '--format',
      'json',
      ...c,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { people: { user: string }[] };
    expect(d.people.map((p) => p.user)).toEqual(['pupil1']); // pupil2 tried it too, outside this case
  });

  it('says "no such user" for a name that is no user and has no rows', async () => {
    const r = await runCli([
      'report',
      'user',
      'PUPIL1',
      ...PERIOD,
      '--case',
      'S-1',
      '--by',
      'A. Head',
      '--reason',
      'pastoral concern',
      ...c,
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('SG_USER_UNKNOWN');
    expect(r.stderr).toContain('no such user "PUPIL1"');
    expect(r.stderr).toContain('did you mean pupil1?');
    expect(r.stdout).toBe('');
    expect(lastAccess()).toMatchObject({ command: 'report user', subject: 'PUPIL1', outcome: 'refused' });
  });
});
