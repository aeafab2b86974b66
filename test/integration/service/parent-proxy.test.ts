/**
 * upstream.proxy: allowed requests and tunnels go through a parent proxy (a second loopback proxy that
 * records what it receives); blocked ones never reach it; a name routed by `hosts` goes straight to its
 * address. pac.direct: the served /proxy.pac sends the listed hosts and networks DIRECT.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import { ORIGIN_BODY, startOrigin, type Origin } from '../../helpers/origin.js';
import { findProxy } from '../../helpers/pac.js';
import { startParentProxy, type ParentProxyServer } from '../../helpers/parent-proxy.js';
import { ownPage, rawExchange, viaProxy } from '../../helpers/raw-http.js';
import { FIXTURE_PROFILES, startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';
import { get, HTTPS_BODY, httpsThroughProxy, makeTestCa, startHttpsOrigin } from '../tls/fixtures.js';

let origin: Origin;
let parent: ParentProxyServer;
let sg: RunningSchoolgate | undefined;

beforeAll(async () => {
  origin = await startOrigin();
  parent = await startParentProxy();
});
afterEach(async () => {
  await sg?.stop();
  sg = undefined;
  parent.seen.length = 0;
  parent.headers.length = 0;
  origin.seen.length = 0;
});
afterAll(async () => {
  await parent?.close();
  await origin?.close();
});

async function start(input: Partial<ConfigInput> = {}): Promise<number> {
  sg = await startTestProxy(
    testConfig({
      httpPorts: [origin.port],
      tunnelPorts: [origin.port],
      tls: { inspect: false },
      upstream: { proxy: `http://127.0.0.1:${parent.port}` },
      // Plain HTTP inside a tunnel stands in for TLS: the test's origin speaks HTTP.
      profiles: { ...FIXTURE_PROFILES, guest: { ...FIXTURE_PROFILES!['guest'], tunnelNonTls: true } },
      ...input,
    }),
  );
  return sg.address.port;
}

describe('a parent proxy', () => {
  it('forwards an allowed request in absolute form, unresolved, with Via', async () => {
    const port = await start();
    const res = await viaProxy(port, `http://www.outside.test:${origin.port}/page?q=1`);
    expect(res.status).toBe(200);
    expect(res.body).toBe(ORIGIN_BODY);
    expect(parent.seen).toEqual([`GET http://www.outside.test:${origin.port}/page?q=1`]);
    expect(parent.headers[0]!.host).toBe(`www.outside.test:${origin.port}`);
    expect(parent.headers[0]!.via).toContain('schoolgate');
  });

  it('opens an allowed tunnel with CONNECT through the parent', async () => {
    const port = await start();
    const target = `www.outside.test:${origin.port}`;
    const res = await rawExchange(
      port,
      `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n` +
        `GET /in-tunnel HTTP/1.1\r\nHost: ${target}\r\nConnection: close\r\n\r\n`,
    );
    expect(res.status).toBe(200);
    expect(res.raw).toContain(ORIGIN_BODY);
    expect(parent.seen).toEqual([`CONNECT ${target}`]);
    expect(origin.seen.map((r) => r.url)).toEqual(['/in-tunnel']);
  });

  it('never sends a blocked request or tunnel to the parent', async () => {
    const port = await start();
    expect((await viaProxy(port, `http://bet.test:${origin.port}/`)).status).toBe(403);
    const res = await rawExchange(port, `CONNECT bet.test:${origin.port} HTTP/1.1\r\nHost: bet.test\r\n\r\n`);
    expect(res.status).toBe(403);
    expect(parent.seen).toEqual([]);
  });

  it('sends a name routed by hosts straight to its address', async () => {
    const port = await start();
    const res = await viaProxy(port, `http://allowed.test:${origin.port}/direct`);
    expect(res.status).toBe(200);
    expect(parent.seen).toEqual([]);
    expect(origin.seen.map((r) => r.url)).toEqual(['/direct']);
  });

  it('answers 502 when the parent cannot be reached', async () => {
    const port = await start({ upstream: { proxy: 'http://127.0.0.1:1' } });
    const res = await viaProxy(port, `http://www.outside.test:${origin.port}/`);
    expect(res.status).toBe(502);
  });
});

describe('pac.direct', () => {
  it('sends the listed hosts, domains and networks DIRECT, everything else through the proxy', async () => {
    const port = await start({
      pac: { direct: ['intranet.school.local', '.vle.school.uk', '10.20.0.0/16'] },
    });
    const pac = await ownPage(port, '/proxy.pac');
    const proxy = `PROXY 127.0.0.1:${port}`;
    expect(findProxy(pac, 'http://intranet.school.local/')).toBe('DIRECT');
    expect(findProxy(pac, 'https://moodle.vle.school.uk/login')).toBe('DIRECT');
    expect(findProxy(pac, 'http://10.20.3.4/printer')).toBe('DIRECT');
    expect(findProxy(pac, 'http://10.21.0.1/')).toBe(proxy);
    expect(findProxy(pac, 'https://www.school.local.evil.example/')).toBe(proxy);
    expect(findProxy(pac, 'https://www.bbc.co.uk/')).toBe(proxy);
  });

  it('refuses an entry that is neither a host nor an IPv4 network, naming the field', () => {
    expect(() => testConfig({ pac: { direct: ['10.0.0.0/40'] } })).toThrow(/pac\.direct\.0.*10\.0\.0\.0\/40/);
  });
});

describe('a parent proxy under HTTPS inspection', () => {
  it('opens the inspected request’s TLS to the origin through a CONNECT to the parent, checked by name', async () => {
    const dir = tempDir();
    const publicCa = makeTestCa(dir);
    const httpsOrigin = await startHttpsOrigin((name) => publicCa.issue([name]), 'www.outside.test');
    try {
      sg = await startTestProxy(
        testConfig(
          {
            tunnelPorts: [httpsOrigin.port],
            upstream: { proxy: `http://127.0.0.1:${parent.port}` },
            tls: { certsDir: path.join(dir, 'certs'), extraCaFiles: [publicCa.file] },
          },
          dir,
        ),
      );
      const target = `www.outside.test:${httpsOrigin.port}`;
      const res = await httpsThroughProxy(sg.address.port, target, {
        ca: sg.proxy.tls!.ca.certPem,
        requests: [get(target, '/inspected')],
      });
      expect(res.tlsError).toBeNull();
      expect(res.status).toBe(200);
      expect(res.body).toBe(HTTPS_BODY);
      expect(parent.seen).toEqual([`CONNECT ${target}`]);
      expect(httpsOrigin.seen.map((s) => [s.url, s.servername])).toEqual([
        ['/inspected', 'www.outside.test'],
      ]);
    } finally {
      await sg?.stop();
      sg = undefined;
      await httpsOrigin.close();
    }
  });
});
