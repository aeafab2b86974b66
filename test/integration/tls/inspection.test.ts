/**
 * HTTPS inspection end to end on loopback, with real TLS both ways: a client that trusts the school CA
 * talks CONNECT + TLS to the proxy; the origins are HTTPS servers whose certificates chain to a throwaway
 * "public" CA the proxy trusts through tls.extraCaFiles. Names are routed with the config's hosts.
 */
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { basic } from '../../helpers/raw-http.js';
import { FIXTURE_PROFILES, startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';
import {
  auditRows,
  get,
  HTTPS_BODY,
  httpsThroughProxy,
  makeTestCa,
  selfSigned,
  startHttpsOrigin,
  type HttpsOrigin,
  type TestCa,
} from './fixtures.js';

interface Row {
  id: string;
  username: string | null;
  host: string;
  port: number | null;
  path: string | null;
  method: string;
  scheme: string;
  action: string;
  reason: string;
  status: number | null;
  kind: string;
  search_term: string | null;
  search_engine: string | null;
  rewrites: string | null;
}

const PUPIL = basic('pupil1', 'pupil-password');
const TECH = basic('tech1', 'tech-password');
const STAFF = basic('staff1', 'staff-password');
let sg: RunningSchoolgate;
let publicCa: TestCa;
let origin: HttpsOrigin;
let selfSignedOrigin: HttpsOrigin;
let expiredOrigin: HttpsOrigin;
let wrongNameOrigin: HttpsOrigin;
let schoolCa: string;

function rows(): Row[] {
  return auditRows<Row>(sg.auditPath);
}

async function until<T>(fn: () => T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting for a row');
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  const dir = tempDir();
  publicCa = makeTestCa(dir);
  origin = await startHttpsOrigin((name) => publicCa.issue([name]), 'allowed.test');
  selfSignedOrigin = await startHttpsOrigin((name) => selfSigned(name), 'selfsigned.test');
  expiredOrigin = await startHttpsOrigin((name) => publicCa.issue([name], { expired: true }), 'expired.test');
  wrongNameOrigin = await startHttpsOrigin(() => publicCa.issue(['somewhere-else.test']), 'x.test');
  const config = testConfig(
    {
      tunnelPorts: [origin.port, selfSignedOrigin.port, expiredOrigin.port, wrongNameOrigin.port],
      identity: { basicAuth: true, requireAuth: false },
      hosts: {
        'bank.test': '127.0.0.1',
        'selfsigned.test': '127.0.0.1',
        'expired.test': '127.0.0.1',
        'wrongname.test': '127.0.0.1',
        'www.google.co.uk': '127.0.0.1',
        // The uninspected SafeSearch mapping must connect to forcesafesearch.google.com, never to this.
        'www.google.com': '127.0.0.2',
        'forcesafesearch.google.com': '127.0.0.1',
      },
      profiles: {
        ...FIXTURE_PROFILES,
        technician: { inspect: false, categories: { adult: 'block' } },
      },
      tls: {
        certsDir: path.join(dir, 'certs'),
        extraCaFiles: [publicCa.file],
        neverInspect: { categories: [], hosts: ['bank.test'] },
        handshakeTimeoutMs: 1_500,
      },
    },
    dir,
  );
  const users = new UserStore(config.dataDir);
  await users.add({ name: 'pupil1', profile: 'pupil', password: 'pupil-password' });
  await users.add({ name: 'tech1', profile: 'technician', password: 'tech-password' });
  await users.add({ name: 'staff1', profile: 'staff', password: 'staff-password' });
  users.close();
  sg = await startTestProxy(config);
  schoolCa = sg.proxy.tls!.ca.certPem;
});

afterAll(async () => {
  await sg?.stop();
  await Promise.all([origin, selfSignedOrigin, expiredOrigin, wrongNameOrigin].map((o) => o?.close()));
});

describe('HTTPS inspection', () => {
  it('fetches an allowed page through the school CA and returns the origin body; one tunnel row, one inspected row', async () => {
    const res = await httpsThroughProxy(sg.address.port, `allowed.test:${origin.port}`, {
      ca: schoolCa,
      proxyAuthorization: PUPIL,
      requests: [get(`allowed.test:${origin.port}`, '/lessons/maths?unit=3')],
    });
    expect(res.tlsError).toBeNull();
    expect(res.status).toBe(200);
    expect(res.body).toBe(HTTPS_BODY);
    expect(res.peer?.issuer.O).toBe('schoolgate web filter');
    expect(res.peer?.subjectaltname).toBe('DNS:allowed.test');
    const seen = origin.seen.at(-1)!;
    expect(seen.url).toBe('/lessons/maths?unit=3');
    expect(seen.servername).toBe('allowed.test');
    const inner = await until(() => rows().find((r) => r.path === '/lessons/maths?unit=3'));
    expect(inner).toMatchObject({
      kind: 'inspected',
      action: 'allow',
      scheme: 'https',
      host: 'allowed.test',
      username: 'pupil1',
    });
    const tunnel = rows().find((r) => r.kind === 'tunnel' && r.host === 'allowed.test');
    expect(tunnel).toMatchObject({
      method: 'CONNECT',
      action: 'allow',
      reason: 'inspect:default',
      status: 200,
    });
  });

  it('shows the block page over HTTPS for a blocked path on an allowed host', async () => {
    const res = await httpsThroughProxy(sg.address.port, `allowed.test:${origin.port}`, {
      ca: schoolCa,
      proxyAuthorization: PUPIL,
      requests: [get(`allowed.test:${origin.port}`, '/videos/cats')],
    });
    expect(res.status).toBe(403);
    expect(res.body).toContain('Audio and video streaming');
    expect(origin.seen.some((s) => s.url === '/videos/cats')).toBe(false);
    const row = await until(() => rows().find((r) => r.path === '/videos/cats'));
    expect(row).toMatchObject({ kind: 'inspected', action: 'block', status: 403 });
  });

  it('decides every keep-alive request on its own Host: fronting a blocked host is blocked (C06, C07)', async () => {
    const res = await httpsThroughProxy(sg.address.port, `allowed.test:${origin.port}`, {
      ca: schoolCa,
      proxyAuthorization: PUPIL,
      requests: [
        get(`allowed.test:${origin.port}`, '/first', {}, false),
        get(`blocked.example:${origin.port}`, '/fronted'),
      ],
    });
    expect(res.text).toMatch(/^HTTP\/1\.1 200/);
    expect(res.text).toContain(HTTPS_BODY);
    expect(res.text).toMatch(/HTTP\/1\.1 403[\s\S]*Adult content/);
    expect(origin.seen.some((s) => s.url === '/fronted')).toBe(false);
    const row = await until(() => rows().find((r) => r.path === '/fronted'));
    expect(row).toMatchObject({ kind: 'inspected', action: 'block', host: 'blocked.example' });
  });

  it('closes a tunnel whose SNI names a blocked host, with a block row "sni-mismatch" (C04)', async () => {
    const res = await httpsThroughProxy(sg.address.port, `allowed.test:${origin.port}`, {
      ca: schoolCa,
      servername: 'blocked.example',
      proxyAuthorization: PUPIL,
      requests: [get('blocked.example', '/')],
    });
    expect(res.connectStatus).toBe(200);
    expect(res.status).toBe(0);
    expect(res.tlsError).not.toBeNull();
    const row = await until(() => rows().find((r) => r.reason === 'sni-mismatch'));
    expect(row).toMatchObject({ kind: 'tunnel', action: 'block', host: 'blocked.example' });
  });

  it('tunnels a never-inspect host untouched: the client sees the origin’s own certificate', async () => {
    const res = await httpsThroughProxy(sg.address.port, `bank.test:${origin.port}`, {
      ca: publicCa.certPem,
      proxyAuthorization: PUPIL,
      requests: [get(`bank.test:${origin.port}`, '/account')],
    });
    expect(res.tlsError).toBeNull();
    expect(res.status).toBe(200);
    expect(res.peer?.issuer.CN).toBe('schoolgate test public CA');
    const tunnel = await until(() => rows().find((r) => r.host === 'bank.test'));
    expect(tunnel).toMatchObject({ kind: 'tunnel', action: 'allow', reason: 'default' });
    expect(rows().some((r) => r.host === 'bank.test' && r.kind === 'inspected')).toBe(false);
  });

  it.each([
    ['self-signed', 'selfsigned.test', () => selfSignedOrigin.port],
    ['expired', 'expired.test', () => expiredOrigin.port],
    ['wrong-host', 'wrongname.test', () => wrongNameOrigin.port],
  ])(
    'refuses an upstream with a %s certificate with an error page naming the reason (C08)',
    async (cause, host, port) => {
      const res = await httpsThroughProxy(sg.address.port, `${host}:${port()}`, {
        ca: schoolCa,
        proxyAuthorization: PUPIL,
        requests: [get(`${host}:${port()}`, '/secret')],
      });
      expect(res.status, JSON.stringify({ ...res, peer: null })).toBe(502);
      expect(res.body).toContain(`(upstream-cert:${cause})`);
      const row = await until(() => rows().find((r) => r.host === host && r.kind === 'inspected'));
      expect(row.action).toBe('allow');
      // The refusal has its own row, committed before the page: there as soon as the page is.
      const refusal = rows().find((r) => r.host === host && r.action === 'error');
      expect(refusal).toMatchObject({ kind: 'inspected', reason: `upstream-cert:${cause}`, status: 502 });
    },
  );

  it('enforces SafeSearch on an inspected Google search and records the search term and the rewrite', async () => {
    const res = await httpsThroughProxy(sg.address.port, `www.google.co.uk:${origin.port}`, {
      ca: schoolCa,
      proxyAuthorization: PUPIL,
      requests: [get(`www.google.co.uk:${origin.port}`, '/search?q=how+to+stay+safe%3F&safe=off&hl=en')],
    });
    expect(res.status).toBe(200);
    expect(origin.seen.at(-1)!.url).toBe('/search?q=how+to+stay+safe%3F&hl=en&safe=active');
    const row = await until(() =>
      rows().find((r) => r.host === 'www.google.co.uk' && r.kind === 'inspected'),
    );
    expect(row).toMatchObject({ search_term: 'how to stay safe?', search_engine: 'google' });
    expect(JSON.parse(row.rewrites!)).toEqual(['safe=active']);
  });

  it('without inspection, maps Google to forcesafesearch.google.com at the CONNECT and records it', async () => {
    const res = await httpsThroughProxy(sg.address.port, `www.google.com:${origin.port}`, {
      ca: publicCa.certPem,
      proxyAuthorization: TECH,
      requests: [get(`www.google.com:${origin.port}`, '/search?q=x')],
    });
    expect(res.tlsError).toBeNull();
    expect(res.status).toBe(200);
    expect(res.peer?.issuer.CN).toBe('schoolgate test public CA');
    const row = await until(() => rows().find((r) => r.host === 'www.google.com'));
    expect(row).toMatchObject({ kind: 'tunnel', action: 'allow', username: 'tech1' });
    expect(JSON.parse(row.rewrites!)).toEqual(['host:forcesafesearch.google.com']);
  });

  it('signs one certificate for a burst of first visits to one host', async () => {
    const leaves = sg.proxy.tls!.leaves;
    const before = leaves.signed;
    const all = await Promise.all(Array.from({ length: 8 }, () => leaves.get('burst.test')));
    expect(leaves.signed - before).toBe(1);
    expect(new Set(all.map((l) => l.certPem)).size).toBe(1);
  });

  it('shows staff the warn page over HTTPS; Continue inside the tunnel grants the site', async () => {
    const authority = `www.facebook.com:${origin.port}`;
    const warned = await httpsThroughProxy(sg.address.port, authority, {
      ca: schoolCa,
      proxyAuthorization: STAFF,
      requests: [get(authority, '/groups/maths')],
    });
    expect(warned.connectStatus).toBe(200);
    expect(warned.status).toBe(403);
    expect(warned.body).toMatch(/Continue/);
    const fields = Object.fromEntries(
      [...warned.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [
        m[1]!,
        m[2]!
          .replace(/&amp;/g, '&')
          .replace(/&#x2F;/g, '/')
          .replace(/&quot;/g, '"'),
      ]),
    );
    const form = new URLSearchParams(fields).toString();
    const cont = await httpsThroughProxy(sg.address.port, authority, {
      ca: schoolCa,
      proxyAuthorization: STAFF,
      requests: [
        `POST /.schoolgate/continue HTTP/1.1\r\nHost: ${authority}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(form)}\r\nConnection: close\r\n\r\n${form}`,
      ],
    });
    expect(cont.status, cont.text.slice(0, 300)).toBe(303);
    const after = await httpsThroughProxy(sg.address.port, authority, {
      ca: schoolCa,
      proxyAuthorization: STAFF,
      requests: [get(authority, '/groups/maths')],
    });
    expect(after.status).toBe(200);
    const row = await until(() =>
      rows().find((r) => r.kind === 'inspected' && r.path === '/groups/maths' && r.action === 'continued'),
    );
    expect(row.username).toBe('staff1');
  });

  it('decides a WebSocket upgrade inside the tunnel, then pipes it; a fronted one is blocked', async () => {
    const authority = `allowed.test:${origin.port}`;
    const upgrade = (host: string) =>
      `GET /live HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const ok = await httpsThroughProxy(sg.address.port, authority, {
      ca: schoolCa,
      proxyAuthorization: PUPIL,
      requests: [upgrade(authority), 'ping-through-the-socket'],
      until: (text) => text.includes('ping-through-the-socket'),
    });
    expect(ok.text).toMatch(/^HTTP\/1\.1 101/);
    expect(ok.text).toContain('ping-through-the-socket');
    const blocked = await httpsThroughProxy(sg.address.port, authority, {
      ca: schoolCa,
      proxyAuthorization: PUPIL,
      requests: [upgrade(`blocked.example:${origin.port}`)],
    });
    expect(blocked.status).toBe(403);
    const row = await until(() =>
      rows().find((r) => r.kind === 'inspected' && r.path === '/live' && r.host === 'blocked.example'),
    );
    expect(row.action).toBe('block');
  });

  it('closes a tunnel whose client never sends a ClientHello at the handshake timeout (C11)', async () => {
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: sg.address.port });
      socket.on('error', reject);
      socket.resume(); // read the 200, then nothing: 'close' needs the stream flowing
      socket.on('close', () => resolve(Date.now() - started));
      socket.write(
        `CONNECT allowed.test:${origin.port} HTTP/1.1\r\nHost: allowed.test\r\nProxy-Authorization: ${PUPIL}\r\n\r\n`,
      );
    });
    // Not before the handshake timeout; no upper bound: a busy machine may close it later, never not at all.
    expect(closedAfter).toBeGreaterThanOrEqual(1_400);
  });

  it('a client that does not trust the school CA fails the handshake; nothing reaches the origin', async () => {
    const before = origin.seen.length;
    const res = await httpsThroughProxy(sg.address.port, `allowed.test:${origin.port}`, {
      ca: publicCa.certPem,
      proxyAuthorization: PUPIL,
      requests: [get(`allowed.test:${origin.port}`, '/never')],
    });
    expect(res.tlsError).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
    expect(origin.seen.length).toBe(before);
  });

  it('negotiates http/1.1 only, even when the client offers h2 (C12)', async () => {
    const protocol = await new Promise<string | false>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: sg.address.port,
        method: 'CONNECT',
        path: `allowed.test:${origin.port}`,
        headers: { 'proxy-authorization': PUPIL },
      });
      req.on('connect', (_res, socket) => {
        const s = tls.connect({
          socket,
          servername: 'allowed.test',
          ca: schoolCa,
          ALPNProtocols: ['h2', 'http/1.1'],
        });
        s.once('secureConnect', () => {
          resolve(s.alpnProtocol ?? false);
          s.destroy();
        });
        s.once('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    expect(protocol).not.toBe('h2');
  });

  it('decides the SNI too on an uninspected tunnel: a blocked SNI closes it before any byte reaches the origin', async () => {
    const before = origin.seen.length;
    const res = await httpsThroughProxy(sg.address.port, `allowed.test:${origin.port}`, {
      ca: publicCa.certPem,
      servername: 'blocked.example',
      proxyAuthorization: TECH,
      requests: [get('blocked.example', '/')],
    });
    expect(res.connectStatus).toBe(200);
    expect(res.status).toBe(0);
    expect(origin.seen.length).toBe(before);
    const row = await until(() => rows().find((r) => r.reason === 'sni-mismatch' && r.username === 'tech1'));
    expect(row).toMatchObject({ kind: 'tunnel', action: 'block', host: 'blocked.example' });
  });
});
