/**
 * An expired school CA is an outage, said loudly, never a quiet downgrade (red team, issue 11 item 2): it
 * used to turn inspection off, so every inspected profile got raw tunnels. Now an inspected profile's
 * CONNECT is refused (503, a row with SG_CA_UNUSABLE) and /healthz says so; a profile that is not inspected
 * still tunnels.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSchoolgate, type RunningSchoolgate } from '../../../src/app/start.js';
import { caPaths, generateCa } from '../../../src/tls/ca.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { basic, rawExchange, viaProxy } from '../../helpers/raw-http.js';
import { tempDir, testConfig } from '../../helpers/schoolgate.js';
import { UserStore } from '../../../src/identity/user-store.js';

let origin: Origin;
let sg: RunningSchoolgate;

beforeAll(async () => {
  origin = await startOrigin();
  const dir = tempDir();
  const certs = path.join(dir, 'certs');
  mkdirSync(certs, { recursive: true });
  const old = generateCa(new Date(Date.now() - 11 * 365 * 86_400_000));
  writeFileSync(caPaths(certs).cert, old.certPem);
  writeFileSync(caPaths(certs).key, old.keyPem, { mode: 0o600 });
  const config = testConfig(
    {
      tunnelPorts: [origin.port],
      identity: { basicAuth: true },
      tls: { certsDir: certs },
      profiles: {
        replace: true,
        pupil: { categories: { adult: 'block' } },
        guest: { categories: { adult: 'block' } },
        tech: { categories: { adult: 'block' }, inspect: false, tunnelNonTls: true },
      },
    },
    dir,
  );
  const users = new UserStore(config.dataDir);
  await users.add({ name: 'pupil1', profile: 'pupil', password: 'pupil-password' });
  await users.add({ name: 'tech1', profile: 'tech', password: 'tech-password' });
  users.close();
  sg = await startSchoolgate(config, pino({ level: 'silent' }));
});
afterAll(async () => {
  await sg?.stop();
  await origin?.close();
});

function connectAs(auth: string): Promise<{ status: number; closed: boolean; raw: string }> {
  return rawExchange(
    sg.address.port,
    `CONNECT allowed.test:${origin.port} HTTP/1.1\r\nHost: allowed.test\r\nProxy-Authorization: ${auth}\r\n\r\n`,
  );
}

describe('with an expired school CA', () => {
  it('refuses an inspected profile’s CONNECT with 503 and a row saying why, never a raw tunnel', async () => {
    const res = await connectAs(basic('pupil1', 'pupil-password'));
    expect(res.status).toBe(503);
    expect(res.raw).toContain('SG_CA_UNUSABLE');
    const db = new Database(sg.auditPath, { readonly: true });
    const row = db
      .prepare("SELECT action, reason, username, kind, status FROM audit_events WHERE username = 'pupil1'")
      .get();
    db.close();
    expect(row).toEqual({
      action: 'error',
      reason: 'SG_CA_UNUSABLE',
      username: 'pupil1',
      kind: 'tunnel',
      status: 503,
    });
  });

  it('still tunnels for a profile that is not inspected', async () => {
    const res = await connectAs(basic('tech1', 'tech-password'));
    expect(res.status).toBe(200);
  });

  it('says so on /healthz', async () => {
    const res = await viaProxy(sg.address.port, `http://127.0.0.1:${sg.address.port}/healthz`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'inspection-unavailable', inspection: false });
  });
});
