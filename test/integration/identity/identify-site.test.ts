/**
 * A request's site through the real Identifier and users table: the user's site wins over the device's, the
 * device's over the network's, for Basic sign-ins, devices and networks alike; no site anywhere leaves none.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import { Identifier } from '../../../src/identity/identify.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { basic } from '../../helpers/raw-http.js';
import { tempDir } from '../../helpers/schoolgate.js';

let users: UserStore;
const dir = tempDir();

beforeAll(async () => {
  users = new UserStore(path.join(dir, 'data'));
  await users.add({ name: 'east.head', profile: 'staff', password: 'east-password-1' });
  users.update('east.head', { site: 'east' });
  await users.add({ name: 'no.site', profile: 'staff', password: 'nosite-password' });
});
afterAll(() => users.close());

function identifier(): Identifier {
  const config = validateConfig(
    { identity: { basicAuth: true, requireAuth: false } },
    { overrides: { dataDir: path.join(dir, 'data') } },
  );
  return new Identifier(config, users, {
    networks: [
      { cidr: '10.1.0.0/16', profile: 'pupil', site: 'north' },
      { cidr: '10.2.0.0/16', profile: 'pupil', site: 'south' },
      { cidr: '10.3.0.0/16', profile: 'pupil' },
    ],
    devices: [
      { address: '10.1.0.9', name: 'south-laptop', site: 'south' },
      { address: '10.1.0.10', name: 'east-laptop', user: 'east.head' },
      { address: '10.1.0.11', name: 'plain-laptop', user: 'no.site' },
    ],
  });
}

describe('identify: the request’s site', () => {
  it.each([
    ['a network’s site', '10.1.5.5', undefined, 'north'],
    ['another network’s site', '10.2.5.5', undefined, 'south'],
    ['a network without a site: none', '10.3.5.5', undefined, null],
    ['no network at all (guest): none', '192.0.2.1', undefined, null],
    ['a device’s site over its network’s', '10.1.0.9', undefined, 'south'],
    ['a device’s user’s site over the network’s', '10.1.0.10', undefined, 'east'],
    ['a device whose user has no site: the network’s', '10.1.0.11', undefined, 'north'],
    ['a signed-in user’s site over the network’s', '10.2.5.5', basic('east.head', 'east-password-1'), 'east'],
    ['a signed-in user’s site over a device’s', '10.1.0.9', basic('east.head', 'east-password-1'), 'east'],
    [
      'a signed-in user without a site: the device’s',
      '10.1.0.9',
      basic('no.site', 'nosite-password'),
      'south',
    ],
    [
      'a signed-in user without a site: the network’s',
      '10.2.5.5',
      basic('no.site', 'nosite-password'),
      'south',
    ],
  ])('%s', async (_, clientIp, proxyAuthorization, want) => {
    const r = await identifier().identify({ clientIp, proxyAuthorization });
    expect(r.ok).toBe(true);
    expect(r.ok && (r.identity.site ?? null)).toBe(want);
  });

  it('follows a user’s new site on their next request (the cached sign-in re-read)', async () => {
    const id = identifier();
    const auth = basic('no.site', 'nosite-password');
    const first = await id.identify({ clientIp: '10.3.5.5', proxyAuthorization: auth });
    expect(first.ok && (first.identity.site ?? null)).toBe(null);
    users.update('no.site', { site: 'west' });
    const second = await id.identify({ clientIp: '10.3.5.5', proxyAuthorization: auth });
    expect(second.ok && second.identity.site).toBe('west');
    users.update('no.site', { site: null });
  });

  it('takes a site from the config file’s networks and devices too, and refuses a malformed one', async () => {
    const identity = {
      networks: [{ cidr: '10.9.0.0/16', profile: 'pupil', site: 'west' }],
      devices: [{ address: '10.9.0.5', name: 'east-pc', site: 'east' }],
    };
    const config = validateConfig({ identity }, { overrides: { dataDir: path.join(dir, 'data') } });
    const id = new Identifier(config, users);
    const network = await id.identify({ clientIp: '10.9.1.1', proxyAuthorization: undefined });
    expect(network.ok && network.identity.site).toBe('west');
    const device = await id.identify({ clientIp: '10.9.0.5', proxyAuthorization: undefined });
    expect(device.ok && device.identity.site).toBe('east');
    expect(() =>
      validateConfig({
        identity: { networks: [{ cidr: '10.9.0.0/16', profile: 'pupil', site: 'West Site' }] },
      }),
    ).toThrow(/site name/);
  });
});
