/**
 * A keep-alive connection reuses the credential verified on it (identify.ts, ConnectionState): the same
 * header on the same connection is not verified again, but a revocation still ends it on the next request,
 * a different header on the connection is verified, and a reload's new address map is looked up again.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import { Identifier } from '../../../src/identity/identify.js';
import { verifyPassword } from '../../../src/identity/password.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { basic } from '../../helpers/raw-http.js';
import { tempDir } from '../../helpers/schoolgate.js';

let users: UserStore;
let dataDir: string;
let verifications: number;

function identifier(): Identifier {
  const config = validateConfig({ identity: { basicAuth: true } }, { overrides: { dataDir } });
  return new Identifier(config, users, undefined, {
    verify: (password, hash) => {
      verifications++;
      return verifyPassword(password, hash);
    },
  });
}

beforeEach(async () => {
  dataDir = path.join(tempDir(), 'data');
  users = new UserStore(dataDir);
  verifications = 0;
  await users.add({ name: 'j.smith', profile: 'staff', password: 'correct horse' });
  await users.add({ name: 'p.pupil', profile: 'pupil', password: 'pupil-password' });
});
afterEach(() => users.close());

describe('identity per keep-alive connection', () => {
  const clientIp = '10.10.1.1';
  const staff = basic('j.smith', 'correct horse');

  it('verifies once per connection, and a disabled user is refused on the next request of it', async () => {
    const id = identifier();
    const connection = {};
    for (let i = 0; i < 3; i++)
      expect(await id.identify({ clientIp, proxyAuthorization: staff, connection })).toMatchObject({
        ok: true,
        identity: { user: 'j.smith', profile: 'staff', via: 'basic' },
      });
    expect(verifications).toBe(1);
    users.update('j.smith', { disabled: true });
    expect(await id.identify({ clientIp, proxyAuthorization: staff, connection })).toMatchObject({
      ok: false,
      reason: 'bad-credentials',
    });
  });

  it('follows a profile change on the next request of the connection', async () => {
    const id = identifier();
    const connection = {};
    await id.identify({ clientIp, proxyAuthorization: staff, connection });
    users.update('j.smith', { profile: 'pupil' });
    expect(await id.identify({ clientIp, proxyAuthorization: staff, connection })).toMatchObject({
      ok: true,
      identity: { user: 'j.smith', profile: 'pupil' },
    });
  });

  it('verifies a different header on the same connection', async () => {
    const id = identifier();
    const connection = {};
    await id.identify({ clientIp, proxyAuthorization: staff, connection });
    expect(
      await id.identify({ clientIp, proxyAuthorization: basic('p.pupil', 'pupil-password'), connection }),
    ).toMatchObject({ ok: true, identity: { user: 'p.pupil', profile: 'pupil' } });
    expect(
      await id.identify({ clientIp, proxyAuthorization: basic('j.smith', 'wrong'), connection }),
    ).toMatchObject({ ok: false, reason: 'bad-credentials' });
    expect(await id.identify({ clientIp, proxyAuthorization: undefined, connection })).toMatchObject({
      ok: true,
      identity: { user: null, via: 'guest' },
    });
    expect(verifications).toBe(3);
  });

  it('looks the device up again after a reload changed the address map, or for another address', async () => {
    const id = identifier();
    const connection = {};
    const first = await id.identify({ clientIp, proxyAuthorization: staff, connection });
    expect(first).toMatchObject({ ok: true, identity: { device: null } });
    const config = validateConfig({ identity: { basicAuth: true } }, { overrides: { dataDir } });
    id.reconfigure(config, { devices: [{ address: clientIp, name: 'laptop-1' }], networks: [] });
    expect(await id.identify({ clientIp, proxyAuthorization: staff, connection })).toMatchObject({
      ok: true,
      identity: { user: 'j.smith', device: 'laptop-1' },
    });
    expect(await id.identify({ clientIp: '10.10.1.2', proxyAuthorization: staff, connection })).toMatchObject(
      { ok: true, identity: { user: 'j.smith', device: null } },
    );
  });
});
