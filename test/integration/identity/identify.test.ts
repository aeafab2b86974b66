/** Who is asking, with a real users table: Basic credentials, devices, networks, guest. */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import { Identifier } from '../../../src/identity/identify.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { basic } from '../../helpers/raw-http.js';
import { tempDir } from '../../helpers/schoolgate.js';

let users: UserStore;
const dir = tempDir();

function identifier(identity: Record<string, unknown>): Identifier {
  const config = validateConfig({ identity }, { overrides: { dataDir: path.join(dir, 'data') } });
  return new Identifier(config, users);
}

beforeAll(async () => {
  users = new UserStore(path.join(dir, 'data'));
  await users.add({ name: 'j.smith', profile: 'staff', password: 'correct horse' });
  await users.add({ name: 'p.pupil', profile: 'pupil', password: 'pupil-password' });
});
afterAll(() => users.close());

describe('identify', () => {
  const networks = [
    { cidr: '10.10.0.0/16', profile: 'pupil' },
    { cidr: '10.20.0.0/16', profile: 'staff' },
  ];
  const devices = [{ address: '10.20.0.7', name: 'laptop-7', user: 'j.smith' }];

  it.each([
    [
      'a network maps to its profile',
      '10.10.1.1',
      undefined,
      { user: null, profile: 'pupil', via: 'network' },
    ],
    [
      'a device maps to its user',
      '10.20.0.7',
      undefined,
      { user: 'j.smith', profile: 'staff', device: 'laptop-7', via: 'device' },
    ],
    ['anything else is a guest', '192.168.0.9', undefined, { user: null, profile: 'guest', via: 'guest' }],
    [
      'credentials win over the address',
      '10.10.1.1',
      basic('j.smith', 'correct horse'),
      { user: 'j.smith', profile: 'staff', via: 'basic' },
    ],
  ])('%s', async (_what, clientIp, proxyAuthorization, expected) => {
    const result = await identifier({ basicAuth: true, networks, devices }).identify({
      clientIp,
      proxyAuthorization,
    });
    expect(result).toMatchObject({ ok: true, identity: expected });
  });

  it.each([
    ['a wrong password', basic('j.smith', 'wrong'), 'bad-credentials'],
    ['an unknown user', basic('nobody', 'x'), 'bad-credentials'],
    ['a malformed header', 'Basic !!!', 'malformed-credentials'],
    ['a non-Basic scheme', 'Bearer abc', 'malformed-credentials'],
  ])('refuses %s', async (_what, header, reason) => {
    const result = await identifier({ basicAuth: true }).identify({
      clientIp: '10.10.1.1',
      proxyAuthorization: header,
    });
    expect(result).toMatchObject({ ok: false, reason });
  });

  it('asks for credentials when they are required and missing', async () => {
    const result = await identifier({ basicAuth: true, requireAuth: true }).identify({
      clientIp: '10.10.1.1',
      proxyAuthorization: undefined,
    });
    expect(result).toEqual({ ok: false, reason: 'auth-required', user: null, claimedUser: null });
  });

  it('ignores credentials when Basic authentication is off', async () => {
    const result = await identifier({ basicAuth: false, networks }).identify({
      clientIp: '10.10.1.1',
      proxyAuthorization: basic('j.smith', 'correct horse'),
    });
    expect(result).toMatchObject({ ok: true, identity: { user: null, profile: 'pupil', via: 'network' } });
  });
});
