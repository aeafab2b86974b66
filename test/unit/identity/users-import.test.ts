/** `users import`: each school export fixture read, detected and planned (pure: no database). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  canonicalHeader,
  detectFormat,
  readExport,
  type ExportFormat,
} from '../../../src/identity/import/formats.js';
import { readPlain } from '../../../src/identity/import/plain.js';
import {
  groupProfiles,
  planImport,
  profileForGroup,
  skippedSummary,
} from '../../../src/identity/import/plan.js';
import { readCsv } from '../../../src/identity/import/read-csv.js';

const fixture = (name: string) =>
  readCsv(readFileSync(new URL(`../../fixtures/users-import/${name}`, import.meta.url), 'utf8'), name);

const MAP = groupProfiles({
  'Year 7': 'pupil',
  'year  8': 'pupil',
  'Year 9': 'pupil',
  'YEAR 10': 'pupil',
  '/Pupils': 'pupil',
  '/Staff': 'staff',
  Science: 'staff',
});

describe('each export format: detected from its header, people mapped, the rest skipped by reason', () => {
  it.each<[ExportFormat, [string, string, string][], [number, string, string][]]>([
    [
      'sims',
      [
        ['j.smith', 'Jon Smith', 'pupil'],
        ['a.oneil', "Aoife O'Neil", 'pupil'],
      ],
      [
        [4, 'r.patel', 'group-not-mapped'],
        [5, '', 'no-user-name'],
      ],
    ],
    [
      'arbor',
      [
        ['c.evans@school.example', 'Chloe Evans', 'pupil'],
        ['d.hughes@school.example', 'Dan Hughes', 'pupil'],
      ],
      // No year group: the registration form is the group, and 9J has no profile.
      [[4, 'e.jones@school.example', 'group-not-mapped']],
    ],
    [
      'bromcom',
      [
        ['f.green', 'Frank Green', 'pupil'],
        ['g.hall', 'Gracie Hall', 'pupil'],
      ],
      [
        [4, 'G.Hall', 'duplicate'],
        [5, 'i jay', 'user-name-not-allowed'],
      ],
    ],
    [
      'google',
      [
        ['i.king@school.example', 'Ivy King', 'pupil'],
        ['j.lee@school.example', 'Jack Lee', 'staff'],
      ],
      [
        [4, 'k.moss@school.example', 'inactive'],
        [5, 'l.nash@school.example', 'group-not-mapped'],
      ],
    ],
    [
      'm365',
      [
        ['m.owen@school.example', 'Mia Owen', 'staff'],
        ['o.quinn@school.example', 'Ola Quinn', 'pupil'],
      ],
      [
        [3, 'n.price@school.example', 'inactive'],
        [5, 'p.reed@school.example', 'no-group'],
      ],
    ],
  ])('%s', (format, users, skipped) => {
    const rows = fixture(`${format}.csv`);
    expect(detectFormat(rows[0]!.fields, 'x.csv')).toBe(format);
    const plan = planImport(readExport(rows, format, 'x.csv'), MAP);
    expect(plan.users.map((u) => [u.name, u.displayName, u.profile])).toEqual(users);
    expect(plan.skipped.map((s) => [s.line, s.name, s.reason])).toEqual(skipped);
  });
});

describe('headers and groups', () => {
  it.each([
    ['Email Address [Required]', 'email address'],
    ['  Org Unit Path  [Required] ', 'org unit path'],
    ['Legal_Surname', 'legal surname'],
    ['Country/Region', 'country/region'],
  ])('canonicalHeader(%j) = %j', (h, expected) => expect(canonicalHeader(h)).toBe(expected));

  it.each([
    ['Year 7', 'pupil'],
    [' year   7 ', 'pupil'],
    ['/Pupils/Year 11', 'pupil'],
    ['/pupils/year 11/', 'pupil'],
    ['/Staff', 'staff'],
    ['/', null],
    ['/Governors', null],
    ['Year 12', null],
    ['Pupils', null],
  ])('profileForGroup(%j) = %s', (group, profile) => expect(profileForGroup(MAP, group)).toBe(profile));

  it('a plain file is not mistaken for an export; an ambiguous header asks for --format', () => {
    expect(detectFormat(['username', 'display name', 'profile'], 'x.csv')).toBe('plain');
    expect(detectFormat(['a.pupil', 'A Pupil', 'pupil'], 'x.csv')).toBe('plain');
    expect(() => detectFormat(['Adno', 'Registration Form', 'Username'], 'x.csv')).toThrow(
      /more than one export format \(sims, arbor\)/,
    );
  });

  it('an export without a user name column is refused whole', () => {
    expect(() => readExport(readCsv('Adno,Year\n1,Year 7\n', 'x.csv'), 'sims', 'x.csv')).toThrow(
      /no user name column/,
    );
  });

  it('the summary counts skipped rows by reason and lists the unmapped groups once', () => {
    const plan = planImport(readExport(fixture('sims.csv'), 'sims', 'x.csv'), groupProfiles({}));
    expect(skippedSummary(plan.skipped)).toEqual({
      'group-not-mapped': { count: 3, groups: ['Year 7', 'Year 12'] },
      'no-user-name': { count: 1 },
    });
  });
});

describe('the CSV reading', () => {
  it('quotes, doubled quotes, a comma and a newline inside quotes, a BOM, comments and blank lines', () => {
    const rows = readCsv('\uFEFF# note\nu,"A ""B"", C",pupil\n\n"v","line\nbreak",staff\n', 'x.csv');
    expect(rows).toEqual([
      { line: 2, fields: ['u', 'A "B", C', 'pupil'] },
      { line: 5, fields: ['v', 'line\nbreak', 'staff'] },
    ]);
  });
  it('an unbalanced quote is SG_CSV_INVALID naming the file and line', () => {
    expect(() => readCsv('a,b,c\n"d,e,f\n', 'x.csv')).toThrow(/x\.csv:\d+: unbalanced quotes/);
  });
  it('the plain format keeps a display name with # in it', () => {
    expect(readPlain(readCsv('u1,Class #3,pupil\n', 'x.csv'), 'x.csv', ['pupil'])).toEqual([
      { name: 'u1', displayName: 'Class #3', profile: 'pupil' },
    ]);
  });
});
