/** Who `--by` is (src/reports/people.ts): a person, from their own account, with the role a read needs. */
import { describe, expect, it } from 'vitest';
import {
  checkPerson,
  invokingAccount,
  purposeMissing,
  resolveBy,
  type PeoplePolicy,
  type RoleNeed,
} from '../../../src/reports/people.js';

const policy: PeoplePolicy = {
  people: [
    { name: 'J. Smith', osUser: 'jsmith', roles: ['dsl'] },
    { name: 'A. Head', roles: ['headteacher'] },
    { name: 'I. Tech', osUser: 'itech', roles: ['technician'] },
    { name: 'G. Auditor', roles: ['auditor'] },
  ],
  reviewerRoles: ['dsl', 'deputy-dsl', 'headteacher'],
  accessLogRoles: ['auditor', 'headteacher'],
};

describe('checkPerson', () => {
  it.each<[string, string, string, RoleNeed | null, string | null]>([
    ['a person from their own account', 'J. Smith', 'jsmith', null, null],
    ['a name in another case, with spaces', '  j. SMITH ', 'jsmith', 'reviewer', null],
    ['a person with no osUser, from any account', 'A. Head', 'root', 'access-log', null],
    ['a name nobody has', 'J. Smyth', 'jsmith', null, 'is not one of the people'],
    ['a person from another account', 'J. Smith', 'itech', null, 'works from the OS account jsmith'],
    ['a review by a technician', 'I. Tech', 'itech', 'reviewer', 'none of the roles that may pull reviews'],
    [
      'the access log by a DSL',
      'J. Smith',
      'jsmith',
      'access-log',
      'none of the roles that may read the access log',
    ],
    ['the access log by an auditor', 'G. Auditor', 'x', 'access-log', null],
    ['a review by an auditor', 'G. Auditor', 'x', 'reviewer', 'none of the roles'],
  ])('%s', (_, by, account, need, refused) => {
    const r = checkPerson(policy, by, account, need);
    if (refused === null) expect(r).toMatchObject({ refusal: null });
    else expect(r?.refusal).toContain(refused);
  });

  it('checks nothing when reports.people is not set', () => {
    expect(checkPerson({ ...policy, people: null }, 'anyone', 'root', 'access-log')).toBeNull();
  });

  it('records the name as reports.people spells it', () => {
    expect(resolveBy(policy.people, 'j. smith')).toBe('J. Smith');
    expect(resolveBy(policy.people, 'Nobody')).toBe('Nobody');
    expect(resolveBy(null, 'j. smith')).toBe('j. smith');
  });
});

describe('invokingAccount', () => {
  it.each<[string, NodeJS.ProcessEnv, number, { account: string; sudoUser: string | null }]>([
    ['no sudo', {}, 1000, { account: 'me', sudoUser: null }],
    [
      'sudo -u schoolgate by jsmith',
      { SUDO_USER: 'jsmith', SUDO_UID: '1001' },
      998,
      { account: 'jsmith', sudoUser: 'jsmith' },
    ],
    [
      'SUDO_USER set by hand, same uid',
      { SUDO_USER: 'jsmith', SUDO_UID: '1000' },
      1000,
      { account: 'me', sudoUser: null },
    ],
    ['SUDO_USER without SUDO_UID', { SUDO_USER: 'jsmith' }, 1000, { account: 'me', sudoUser: null }],
  ])('%s', (_, env, uid, expected) => {
    expect(invokingAccount('me', env, uid)).toEqual(expected);
  });
});

describe('purposeMissing', () => {
  it.each<[string | undefined, boolean]>([
    [undefined, true],
    ['', true],
    ['  n/a ', true],
    ['test', true],
    ['weekly review', false],
  ])('%j → %s', (purpose, missing) => expect(purposeMissing(purpose)).toBe(missing));
});
