/**
 * The proxy end to end on loopback: real server, real origin, real SQLite audit rows.
 */
import net from 'node:net';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { startOrigin, ORIGIN_BODY, type Origin } from '../../helpers/origin.js';
import { decodeEntities } from '../../helpers/page-forms.js';
import { basic, ownPage, rawExchange, viaProxy } from '../../helpers/raw-http.js';
import { FIXTURE_PROFILES, startTestProxy, testConfig } from '../../helpers/schoolgate.js';
import { browseTunnel } from '../../helpers/tls-tunnel.js';

interface Row {
  rowid: number;
  id: string;
  kind: string;
  method: string;
  scheme: string;
  user: string | null;
  claimed_user: string | null;
  profile: string | null;
  host: string;
  path: string | null;
  action: string;
  reason: string;
  status: number | null;
  port: number | null;
  categories: string;
  flagged: number;
}

let origin: Origin;
let sg: RunningSchoolgate;
let port: number;
const PUPIL = basic('pupil1', 'pupil-password');
const STAFF = basic('staff1', 'staff-password');
/** A profile without HTTPS inspection (e.g. unmanaged devices without the school CA). */
const BYOD = basic('byod1', 'byod-password');

function rows(): Row[] {
  const db = new Database(sg.auditPath, { readonly: true });
  try {
    return db
      .prepare('SELECT rowid, *, username AS user FROM audit_events ORDER BY time_ms, rowid')
      .all() as Row[];
  } finally {
    db.close();
  }
}

/** The highest rowid so far: rows after it are what the test does next. */
function rowMark(): number {
  return Math.max(0, ...rows().map((r) => r.rowid));
}

function rowsSince(mark: number): Row[] {
  return rows()
    .filter((r) => r.rowid > mark)
    .sort((a, b) => a.rowid - b.rowid);
}

function rowById(id: string): Row | undefined {
  return rows().find((r) => r.id === id);
}

function referenceIn(body: string): string {
  const m = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/.exec(body);
  if (!m) throw new Error(`no reference in page: ${body.slice(0, 200)}`);
  return m[1]!;
}

beforeAll(async () => {
  origin = await startOrigin();
  const config = testConfig({
    httpPorts: [origin.port],
    tunnelPorts: [origin.port],
    identity: { basicAuth: true, requireAuth: false },
    // Not inspected, and allowed to tunnel what is not TLS (the plain HTTP these tests send through tunnels).
    profiles: {
      ...FIXTURE_PROFILES,
      byod: { ...FIXTURE_PROFILES!.pupil!, inspect: false, tunnelNonTls: true },
    },
  });
  const users = new UserStore(config.dataDir);
  await users.add({ name: 'pupil1', profile: 'pupil', password: 'pupil-password' });
  await users.add({ name: 'staff1', profile: 'staff', password: 'staff-password' });
  await users.add({ name: 'byod1', profile: 'byod', password: 'byod-password' });
  users.close();
  sg = await startTestProxy(config);
  port = sg.address.port;
});

afterAll(async () => {
  await sg?.stop();
  await origin?.close();
});

describe('plain HTTP through the proxy', () => {
  it('forwards an allowed request and returns the origin body, with an allow row', async () => {
    const res = await viaProxy(port, `http://allowed.test:${origin.port}/page?q=1`, {
      headers: { 'proxy-authorization': PUPIL },
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe(ORIGIN_BODY);
    const seen = origin.seen.at(-1)!;
    expect(seen.url).toBe('/page?q=1');
    expect(seen.headers.host).toBe(`allowed.test:${origin.port}`);
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    const row = rows().find((r) => r.host === 'allowed.test' && r.path === '/page?q=1');
    expect(row).toMatchObject({ action: 'allow', user: 'pupil1', profile: 'pupil' });
  });

  it('shows a pupil the block page for a social host, and records the block', async () => {
    const res = await viaProxy(port, `http://www.facebook.com:${origin.port}/`, {
      headers: { 'proxy-authorization': PUPIL },
    });
    expect(res.status).toBe(403);
    expect(res.body).toContain('Social networking');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    const row = rowById(referenceIn(res.body));
    expect(row).toMatchObject({ action: 'block', host: 'www.facebook.com', user: 'pupil1', status: 403 });
    expect(JSON.parse(row!.categories)).toEqual(['social']);
  });

  it('shows staff the warn page; Continue grants the site and later requests are "continued"', async () => {
    const url = `http://www.facebook.com:${origin.port}/feed`;
    const warned = await viaProxy(port, url, { headers: { 'proxy-authorization': STAFF } });
    expect(warned.status).toBe(403);
    expect(warned.body).toMatch(/Continue/);
    expect(rowById(referenceIn(warned.body))).toMatchObject({ action: 'warn', user: 'staff1' });

    const fields = Object.fromEntries(
      [...warned.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [
        m[1]!,
        decodeEntities(m[2]!),
      ]),
    );
    expect(fields.token).toBeTruthy();
    const form = new URLSearchParams(fields).toString();
    const cont = await viaProxy(port, `http://www.facebook.com:${origin.port}/.schoolgate/continue`, {
      method: 'POST',
      headers: { 'proxy-authorization': STAFF, 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    expect(cont.status).toBe(303);
    expect(cont.headers.location).toBe(url);

    const after = await viaProxy(port, url, { headers: { 'proxy-authorization': STAFF } });
    expect(after.status).toBe(200);
    expect(after.body).toBe(ORIGIN_BODY);
    const mine = rows().filter((r) => r.user === 'staff1' && r.host === 'www.facebook.com');
    expect(mine.map((r) => r.action)).toEqual(['warn', 'continue', 'continued']);

    // Another user cannot reuse the staff member's token.
    const stolen = await viaProxy(port, `http://www.facebook.com:${origin.port}/.schoolgate/continue`, {
      method: 'POST',
      headers: { 'proxy-authorization': PUPIL, 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    expect(stolen.status).toBe(400);
  });

  it('records "I reached this by accident" from the block page as a self-report row', async () => {
    const blocked = await viaProxy(port, `http://www.facebook.com:${origin.port}/oops`, {
      headers: { 'proxy-authorization': PUPIL },
    });
    const reference = referenceIn(blocked.body);
    expect(blocked.body).toContain('action="/.schoolgate/report"');
    const report = await viaProxy(port, `http://www.facebook.com:${origin.port}/.schoolgate/report`, {
      method: 'POST',
      headers: { 'proxy-authorization': PUPIL, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ reference, comment: 'clicked a link in a game <b>' }).toString(),
    });
    expect(report.status).toBe(200);
    expect(report.body).toContain(reference);
    expect(report.body).toContain('tell a teacher');
    const row = rows().find((r) => r.action === 'self-report');
    expect(row).toMatchObject({
      user: 'pupil1',
      host: 'www.facebook.com',
      reason: `self-report:${reference}`,
    });
    expect((row as unknown as { note: string }).note).toBe('clicked a link in a game <b>');
    const forged = await viaProxy(port, `http://www.facebook.com:${origin.port}/.schoolgate/report`, {
      method: 'POST',
      headers: { 'proxy-authorization': PUPIL, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'reference=%27%20OR%201%3D1',
    });
    expect(forged.status).toBe(400);
  });

  it('answers a wrong password with 407 and Proxy-Authenticate, and records the failure', async () => {
    const res = await viaProxy(port, `http://allowed.test:${origin.port}/`, {
      headers: { 'proxy-authorization': basic('pupil1', 'wrong') },
    });
    expect(res.status).toBe(407);
    expect(res.headers['proxy-authenticate']).toMatch(/^Basic realm="schoolgate"/);
    // Recorded under the name it claimed, never as pupil1's own activity.
    const failed = rows().filter((r) => r.action === 'auth-failed');
    expect(failed.map((r) => [r.user, r.claimed_user])).toContainEqual([null, 'pupil1']);
    expect(failed.some((r) => r.user !== null)).toBe(false);
  });

  it('gives unauthenticated clients the guest profile when credentials are optional', async () => {
    const res = await viaProxy(port, `http://www.facebook.com:${origin.port}/`);
    expect(res.status).toBe(403);
    expect(rowById(referenceIn(res.body))).toMatchObject({ action: 'block', profile: 'guest', user: null });
  });
});

describe('CONNECT', () => {
  it('shows an inspected profile the block page inside the tunnel for a blocked host, then closes', async () => {
    const mark = rowMark();
    const seen = origin.seen.length;
    const res = await browseTunnel(port, `blocked.example:${origin.port}`, {
      ca: sg.proxy.tls!.ca.certPem,
      headers: [`Proxy-Authorization: ${PUPIL}`],
    });
    // 200, then TLS with a leaf for blocked.example signed by the school CA (verified by name), then the page.
    expect(res.connect.status, res.connect.raw).toBe(200);
    expect(res.tlsError).toBeUndefined();
    expect(res.handshake).toMatchObject({
      verify: 'dns-name',
      authorized: true,
      leafNames: ['blocked.example'],
    });
    expect(res.inner?.status, res.inner?.raw).toBe(403);
    expect(res.inner!.headers.connection).toMatch(/close/i);
    expect(res.inner!.body).toContain('Adult content');
    expect(res.inner!.closed).toBe(true);
    expect(origin.seen.length, 'nothing reaches the origin').toBe(seen);
    const [tunnel, page, ...more] = rowsSince(mark);
    expect(more).toEqual([]);
    expect(tunnel).toMatchObject({
      kind: 'tunnel',
      method: 'CONNECT',
      action: 'block',
      reason: 'block-page:category',
      host: 'blocked.example',
      port: origin.port,
      user: 'pupil1',
      profile: 'pupil',
    });
    // Written with 200 when the tunnel opened; the outcome (403) follows once it has closed.
    expect([200, 403]).toContain(tunnel!.status);
    expect(page).toMatchObject({
      kind: 'inspected',
      action: 'block',
      reason: 'category',
      status: 403,
      host: 'blocked.example',
      user: 'pupil1',
      profile: 'pupil',
    });
    expect(referenceIn(res.inner!.body)).toBe(page!.id);
  });

  it('refuses a blocked host with 403 at the CONNECT for a profile without inspection, and closes', async () => {
    const mark = rowMark();
    const seen = origin.seen.length;
    const res = await browseTunnel(port, `blocked.example:${origin.port}`, {
      ca: sg.proxy.tls!.ca.certPem,
      headers: [`Proxy-Authorization: ${BYOD}`],
    });
    expect(res.connect.status, res.connect.raw).toBe(403);
    expect(res.connect.closed).toBe(true);
    expect(res.handshake).toBeUndefined();
    expect(origin.seen.length, 'nothing reaches the origin').toBe(seen);
    expect(rowsSince(mark)).toMatchObject([
      {
        kind: 'tunnel',
        method: 'CONNECT',
        action: 'block',
        reason: 'category',
        host: 'blocked.example',
        status: 403,
        user: 'byod1',
        profile: 'byod',
      },
    ]);
  });

  it('tunnels to an allowed host for a profile not inspected: bytes flow both ways through the tunnel', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      let buffer = '';
      let established = false;
      socket.on('data', (c: Buffer) => {
        buffer += c.toString('latin1');
        if (!established && buffer.includes('\r\n\r\n')) {
          expect(buffer.startsWith('HTTP/1.1 200')).toBe(true);
          established = true;
          buffer = '';
          socket.write(`GET /through-tunnel HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n`);
        }
      });
      socket.on('end', () => resolve(buffer));
      socket.on('error', reject);
      socket.write(
        `CONNECT allowed.test:${origin.port} HTTP/1.1\r\nHost: allowed.test\r\nProxy-Authorization: ${BYOD}\r\n\r\n`,
      );
    });
    expect(body).toContain('hello from the origin');
    expect(origin.seen.some((s) => s.url === '/through-tunnel')).toBe(true);
    expect(rows().some((r) => r.host === 'allowed.test' && r.action === 'allow' && r.path === '/')).toBe(
      true,
    );
  });

  it('refuses ports outside the tunnel list', async () => {
    const res = await rawExchange(
      port,
      `CONNECT allowed.test:22 HTTP/1.1\r\nHost: allowed.test:22\r\nProxy-Authorization: ${PUPIL}\r\n\r\n`,
    );
    expect(res.status).toBe(403);
    expect(rows().some((r) => r.host === 'allowed.test' && r.port === 22 && r.reason === 'port')).toBe(true);
  });
});

describe('own pages', () => {
  it('serves /healthz and a PAC file naming the proxy', async () => {
    const health = await rawExchange(
      port,
      'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });
    const pac = await ownPage(port, '/proxy.pac');
    expect(pac).toContain('FindProxyForURL');
    expect(pac).toContain(`PROXY 127.0.0.1:${port}`);
  });
});

describe('when the audit log cannot be written', () => {
  it('refuses requests with 503 instead of serving unlogged traffic', async () => {
    const local = await startOrigin();
    const config = testConfig({ httpPorts: [local.port] });
    const proxy = await startTestProxy(config);
    try {
      const ok = await viaProxy(proxy.address.port, `http://allowed.test:${local.port}/`);
      expect(ok.status).toBe(200);
      await (
        proxy.audit as unknown as { transport: { thread: { terminate(): Promise<number> } } }
      ).transport.thread.terminate();
      const refused = await viaProxy(proxy.address.port, `http://allowed.test:${local.port}/after`);
      expect(refused.status).toBe(503);
      expect(refused.body).toContain('not available');
      expect(local.seen.map((s) => s.url)).toEqual(['/']);
      const health = await rawExchange(
        proxy.address.port,
        'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      expect(health.status).toBe(503);
    } finally {
      await proxy.stop();
      await local.close();
    }
  });
});
