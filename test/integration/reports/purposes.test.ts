/**
 * Who may see what (issue 10 item 2), through the real CLI over the fixture database: every read says why
 * (--reason), and the access record keeps the purpose, the format and the output file; with reports.people
 * set, --by is a person (refused when it names nobody, or is typed from another OS account than theirs),
 * and the reviews outside a case and the access log are for the roles the config names. Refusals are
 * recorded like every other.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNCHECKED_BY_WARNING } from '../../../src/reports/people.js';
import { runCli } from '../../helpers/cli.js';
import { buildFixture, type Fixture } from './fixture.js';

let f: Fixture;
let c: string[];
/** A config with reports.people (written in beforeAll). */
let withPeople: string[];
const me = os.userInfo().username;
const PERIOD = ['--from', '2026-11-02', '--to', '2026-11-06'];
const WHY = ['--reason', 'concern raised by form tutor'];

interface AccessRow {
  command: string;
  by_name: string | null;
  outcome: string;
  reason: string | null;
  purpose: string | null;
  format: string | null;
  out_file: string | null;
  sudo_user: string | null;
}

function lastAccess(): AccessRow {
  const db = new Database(f.dbPath, { readonly: true });
  try {
    return db.prepare('SELECT * FROM report_access ORDER BY id DESC LIMIT 1').get() as AccessRow;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  f = await buildFixture();
  c = ['--config', f.config];
  const opened = await runCli(['case', 'open', 'P-1', '--subject', 'pupil1', '--by', 'A. Head', ...c]);
  expect(opened.code, opened.stderr).toBe(0);
  const people = [
    { name: 'J. Smith', osUser: me, roles: ['dsl'] },
    { name: 'A. Head', roles: ['headteacher'] },
    { name: 'I. Tech', roles: ['technician'] },
    { name: 'R. Away', osUser: 'r.away', roles: ['dsl'] },
    { name: 'G. Auditor', roles: ['auditor'] },
  ];
  const file = path.join(f.dir, 'people.yaml');
  writeFileSync(file, `${readFileSync(f.config, 'utf8')}  people: ${JSON.stringify(people)}\n`);
  withPeople = ['--config', file];
});

afterAll(() => rmSync(f.dir, { recursive: true, force: true }));

describe('a purpose on every read', () => {
  it.each([
    ['report user', ['report', 'user', 'pupil1', ...PERIOD, '--case', 'P-1', '--by', 'A. Head']],
    ['report flagged', ['report', 'flagged', '--by', 'A. Head']],
    ['report access-log', ['report', 'access-log', '--by', 'A. Head']],
    ['case show', ['case', 'show', 'P-1', '--by', 'A. Head']],
    ['case list', ['case', 'list', '--by', 'A. Head']],
    ['hold list', ['hold', 'list', '--by', 'A. Head']],
    ['report weekly', ['report', 'weekly', '--by', 'A. Head', '--reason', 'n/a']],
  ])('refuses %s without a reason (or a token one) and records the refusal', async (command, args) => {
    const r = await runCli([...args, ...c]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SG_REPORT_REFUSED');
    expect(r.stderr).toContain('no --reason');
    expect(r.stdout).toBe('');
    expect(lastAccess()).toMatchObject({ command, outcome: 'refused', by_name: 'A. Head' });
  });

  it('keeps the purpose, format and output file, and shows them in the report and the access log', async () => {
    const out = path.join(f.dir, 'pupil1.html');
    const r = await runCli([
      'report',
      'user',
      'pupil1',
      ...PERIOD,
      '--case',
      'P-1',
      '--by',
      'A. Head',
      ...WHY,
      '--format',
      'html',
      '--out',
      out,
      ...c,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(UNCHECKED_BY_WARNING);
    expect(readFileSync(out, 'utf8')).toContain('concern raised by form tutor');
    expect(lastAccess()).toMatchObject({
      command: 'report user',
      outcome: 'granted',
      purpose: 'concern raised by form tutor',
      format: 'html',
      out_file: out,
      sudo_user: null,
    });
    const log = await runCli(['report', 'access-log', '--by', 'A. Head', '--reason', 'termly audit', ...c]);
    expect(log.code, log.stderr).toBe(0);
    const line = log.stdout.split('\n').find((l) => l.includes(out));
    expect(line).toContain('concern raised by form tutor');
    expect(line).toContain(`html to ${out}`);
    const shown = await runCli(['case', 'show', 'P-1', '--by', 'A. Head', '--reason', 'case review', ...c]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('concern raised by form tutor');
  });
});

describe('with reports.people, a person and their roles', () => {
  it('refuses a --by that names nobody in reports.people, and records the name as typed', async () => {
    const r = await runCli(['case', 'list', '--by', 'Somebody', ...WHY, ...withPeople]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SG_REPORT_REFUSED');
    expect(r.stderr).toContain('"Somebody" is not one of the people in reports.people');
    expect(lastAccess()).toMatchObject({ command: 'case list', outcome: 'refused', by_name: 'Somebody' });
  });

  it('refuses a person typed from another OS account, and grants them through sudo from their own', async () => {
    const r = await runCli(['report', 'flagged', '--by', 'R. Away', ...WHY, ...withPeople]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`R. Away works from the OS account r.away, and this command was run by ${me}`);
    expect(lastAccess()).toMatchObject({ command: 'report flagged', outcome: 'refused' });
    const env = { ...process.env, SUDO_USER: 'r.away', SUDO_UID: String((process.getuid?.() ?? 0) + 1) };
    const sudo = await runCli(['report', 'flagged', '--by', 'R. Away', ...WHY, ...withPeople], { env });
    expect(sudo.code, sudo.stderr).toBe(0);
    expect(lastAccess()).toMatchObject({ outcome: 'granted', by_name: 'R. Away', sudo_user: 'r.away' });
  });

  it('grants reviews outside a case only to the reviewer roles', async () => {
    for (const review of ['flagged', 'weekly']) {
      const r = await runCli(['report', review, '--by', 'I. Tech', ...WHY, ...withPeople]);
      expect(r.code, review).toBe(1);
      expect(r.stderr).toContain('I. Tech (technician) has none of the roles that may pull reviews');
      expect(lastAccess()).toMatchObject({ command: `report ${review}`, outcome: 'refused' });
    }
    // A name is matched whatever its case, and recorded as reports.people spells it; no warning.
    const dsl = await runCli(['report', 'weekly', '--by', 'j. smith', ...WHY, ...withPeople]);
    expect(dsl.code, dsl.stderr).toBe(0);
    expect(dsl.stderr).not.toContain(UNCHECKED_BY_WARNING);
    expect(dsl.stdout).toContain('J. Smith');
    expect(lastAccess()).toMatchObject({ command: 'report weekly', outcome: 'granted', by_name: 'J. Smith' });
  });

  it('treats alerts read outside a case as a review', async () => {
    const tech = await runCli(['alerts', 'list', '--by', 'I. Tech', ...withPeople]);
    expect(tech.code).toBe(1);
    expect(tech.stderr).toContain('I. Tech (technician) has none of the roles that may pull reviews');
    expect(lastAccess()).toMatchObject({ command: 'alerts list', outcome: 'refused' });
    const dsl = await runCli(['alerts', 'list', '--by', 'J. Smith', ...withPeople]);
    expect(dsl.code, dsl.stderr).toBe(0);
  });

  it('grants the access log only to auditors and the headteacher', async () => {
    const dsl = await runCli(['report', 'access-log', '--by', 'J. Smith', ...WHY, ...withPeople]);
    expect(dsl.code).toBe(1);
    expect(dsl.stderr).toContain('has none of the roles that may read the access log');
    const auditor = await runCli(['report', 'access-log', '--by', 'G. Auditor', ...WHY, ...withPeople]);
    expect(auditor.code, auditor.stderr).toBe(0);
    // The refusals above are on the record the auditor reads.
    expect(auditor.stdout).toContain('I. Tech (technician) has none of the roles');
  });
});
