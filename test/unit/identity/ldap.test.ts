/** The pure parts of directory sign-in: the escaped user filter, DN comparison, group order, the config. */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import { userFilter } from '../../../src/identity/ldap/filter.js';
import { canonicalDn, groupMap, profileOfGroups } from '../../../src/identity/ldap/groups.js';

describe('userFilter escapes the name as RFC 4515 says', () => {
  it.each([
    ['(uid={user})', 'ava.y7', '(uid=ava.y7)'],
    ['(sAMAccountName={user})', 'j.smith@x', '(sAMAccountName=j.smith@x)'],
    ['(uid={user})', '*', '(uid=\\2a)'],
    ['(uid={user})', 'x)(uid=*', '(uid=x\\29\\28uid=\\2a)'],
    ['(uid={user})', 'a\\b', '(uid=a\\5cb)'],
    ['(uid={user})', 'nul\u0000', '(uid=nul\\00)'],
    ['(uid={user})', '$&', '(uid=$&)'],
    ['(|(uid={user})(mail={user}))', 'ava', '(|(uid=ava)(mail=ava))'],
  ])('%s with %j → %s', (template, user, expected) => {
    expect(userFilter(template, user)).toBe(expected);
  });
});

describe('canonicalDn', () => {
  it.each([
    ['CN=Year7,OU=Pupils,DC=school,DC=local', 'cn=year7,ou=pupils,dc=school,dc=local'],
    ['cn=Year7, ou=Pupils , dc=school', 'cn=year7,ou=pupils,dc=school'],
    ['cn = Year 7,ou=Pupils', 'cn=year 7,ou=pupils'],
    ['cn=Smith\\, John,ou=Staff', 'cn=smith\\, john,ou=staff'],
    ['  cn=a+uid=b ,dc=x ', 'cn=a+uid=b,dc=x'],
  ])('%j → %j', (dn, expected) => {
    expect(canonicalDn(dn)).toBe(expected);
  });
});

describe('profileOfGroups: the first configured group the user is in', () => {
  const map = groupMap({
    'CN=Staff,OU=Groups,DC=s': 'staff',
    'CN=Year7,OU=Groups,DC=s': 'pupil',
    'CN=Sixth,OU=Groups,DC=s': 'sixthform',
  });
  it.each([
    [['cn=year7,ou=groups,dc=s'], 'pupil'],
    [['CN=Sixth, OU=Groups, DC=s', 'CN=Year7,OU=Groups,DC=s'], 'pupil'],
    [['cn=Year7,ou=Groups,dc=s', 'cn=Staff,ou=Groups,dc=s'], 'staff'],
    [['cn=Other,ou=Groups,dc=s'], null],
    [[], null],
  ])('%j → %s', (memberOf, profile) => {
    expect(profileOfGroups(map, memberOf)?.profile ?? null).toBe(profile);
  });
});

describe('identity.ldap config', () => {
  const ldap = {
    url: 'ldaps://dc1.school.local',
    bindDn: 'cn=svc',
    bindPasswordFile: '/etc/schoolgate/ldap-password',
    userBase: 'ou=People,dc=school',
  };
  const load = (identity: object) => () => validateConfig({ identity } as never);

  it('takes defaults: AD filter, 3 s timeout, 15 min cache, guest on outage', () => {
    const config = validateConfig({ identity: { basicAuth: true, ldap } });
    expect(config.identity.ldap).toMatchObject({
      userFilter: '(sAMAccountName={user})',
      timeoutMs: 3_000,
      cacheTtlSeconds: 900,
      onOutage: 'guest',
      groups: {},
      tls: { startTls: false },
    });
  });
  it.each([
    ['without basicAuth', { ldap }, /basicAuth/],
    ['a filter without {user}', { basicAuth: true, ldap: { ...ldap, userFilter: '(uid=x)' } }, /\{user\}/],
    [
      'a group mapped to no profile',
      { basicAuth: true, ldap: { ...ldap, groups: { 'cn=g': 'nope' } } },
      /nope/,
    ],
    ['an http url', { basicAuth: true, ldap: { ...ldap, url: 'http://dc1' } }, /ldap/],
    ['StartTLS on an ldaps url', { basicAuth: true, ldap: { ...ldap, tls: { startTls: true } } }, /startTls/],
    ['an unknown onOutage', { basicAuth: true, ldap: { ...ldap, onOutage: 'allow' } }, /onOutage/],
  ])('refuses %s', (_, identity, message) => {
    expect(load(identity)).toThrow(message);
  });
});
