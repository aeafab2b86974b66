/** Which audit rows a case's subjects cover, and the one reading of a subject address. */
import { describe, expect, it } from 'vitest';
import {
  canonicalAddress,
  rowCovered,
  subjectsFrom,
  type CaseSubject,
  type RowIdentity,
} from '../../../src/audit/case-subjects.js';

const row = (username: string | null, device: string | null, client_ip: string): RowIdentity => ({
  username,
  device,
  client_ip,
});
const user = (value: string): CaseSubject => ({ kind: 'user', value });
const device = (value: string): CaseSubject => ({ kind: 'device', value });
const address = (value: string): CaseSubject => ({ kind: 'address', value });

describe('rowCovered', () => {
  it.each<[string, CaseSubject[], RowIdentity, boolean]>([
    ['the subject’s own row', [user('j.smith')], row('j.smith', null, '10.0.0.5'), true],
    ['another user’s row', [user('j.smith')], row('k.jones', null, '10.0.0.5'), false],
    ['a name differing only in case', [user('j.smith')], row('J.Smith', null, '10.0.0.5'), false],
    ['nobody signed in, on the subject device', [device('lab-3')], row(null, 'lab-3', '10.0.0.9'), true],
    [
      'a pupil signed in on the subject device',
      [device('lab-3')],
      row('k.jones', 'lab-3', '10.0.0.9'),
      false,
    ],
    ['nobody signed in, from the subject address', [address('10.0.0.9')], row(null, null, '10.0.0.9'), true],
    [
      'a pupil signed in from the subject address',
      [address('10.0.0.9')],
      row('k.jones', null, '10.0.0.9'),
      false,
    ],
    ['nobody signed in, from another address', [address('10.0.0.9')], row(null, null, '10.0.0.10'), false],
    ['a second subject', [user('j.smith'), user('k.jones')], row('k.jones', null, '10.0.0.5'), true],
    ['no subjects at all', [], row('j.smith', null, '10.0.0.5'), false],
  ])('%s', (_, subjects, r, covered) => {
    expect(rowCovered(subjects, r)).toBe(covered);
  });
});

describe('canonicalAddress', () => {
  it.each([
    ['10.0.0.9', '10.0.0.9'],
    [' 10.0.0.9 ', '10.0.0.9'],
    ['::ffff:10.0.0.9', '10.0.0.9'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
  ])('%s reads as %s', (input, canonical) => {
    expect(canonicalAddress(input)).toBe(canonical);
  });

  it.each(['10.0.0.256', '10.0.0', 'lab-3', '', '010.0.0.9'])('refuses %j', (input) => {
    expect(() => canonicalAddress(input)).toThrow(/not an IP address/);
  });
});

describe('subjectsFrom', () => {
  it('keeps each subject once, in the order given, addresses canonical', () => {
    expect(
      subjectsFrom({ users: ['a', 'a'], devices: ['lab-3'], addresses: ['::ffff:10.0.0.9', '10.0.0.9'] }),
    ).toEqual([user('a'), device('lab-3'), address('10.0.0.9')]);
  });
});
