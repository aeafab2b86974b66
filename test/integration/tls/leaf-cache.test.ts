/**
 * Leaf certificates (issue 13, Build item 3): minted leaves and the leaf key on disk (owner-only), served
 * again after a restart only when they still fit (this CA, this key, this host, not near expiry), bounded;
 * and the handshake paths: with SNI a cert-only context over the shared key's context, without SNI a full
 * context, both real TLS through the proxy.
 */
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { loadOrCreateCa } from '../../../src/tls/ca.js';
import { LeafCertificates } from '../../../src/tls/leaf.js';
import { LeafStore } from '../../../src/tls/leaf-store.js';
import { startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';
import { httpsThroughProxy, makeTestCa, startHttpsOrigin, type HttpsOrigin } from './fixtures.js';

const mode = (file: string) => statSync(file).mode & 0o777;
const pems = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.pem') && f !== 'leaf-key.pem');

describe('leaves on disk', () => {
  const ca = loadOrCreateCa(path.join(tempDir(), 'certs')).ca;
  const otherCa = loadOrCreateCa(path.join(tempDir(), 'certs')).ca;
  const leaves = (dir: string, opts: { now?: () => Date; ca?: typeof ca; max?: number } = {}) =>
    new LeafCertificates(opts.ca ?? ca, {
      validityDays: 7,
      cacheSize: 16,
      store: new LeafStore(dir, opts.max ?? 100),
      ...(opts.now ? { now: opts.now } : {}),
    });

  it('are written owner-only with the leaf key, and served after a restart without signing', async () => {
    const dir = path.join(tempDir(), 'leaves');
    const first = leaves(dir);
    const minted = await first.get('www.example.org');
    await first.flushed(); // written in the background, off the handshake's path
    expect(first.signed).toBe(1);
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(dir, 'leaf-key.pem'))).toBe(0o600);
    expect(pems(dir)).toHaveLength(1);
    expect(mode(path.join(dir, pems(dir)[0]!))).toBe(0o600);
    expect(readdirSync(dir).join(' ')).not.toContain('example');

    const restarted = leaves(dir);
    const again = await restarted.get('www.example.org');
    expect(restarted.signed).toBe(0);
    expect(again.certPem).toBe(minted.certPem);
    expect(restarted.spkiSha256).toBe(first.spkiSha256);
  });

  it('are signed again for another CA, a damaged file, or near expiry', async () => {
    const dir = path.join(tempDir(), 'leaves');
    const original = leaves(dir);
    const minted = await original.get('a.example');
    await original.flushed();

    const renewed = leaves(dir, { ca: otherCa });
    expect((await renewed.get('a.example')).certPem).not.toBe(minted.certPem);
    expect(renewed.signed).toBe(1);
    await renewed.flushed();

    writeFileSync(path.join(dir, pems(dir)[0]!), 'not a certificate');
    const damaged = leaves(dir);
    await damaged.get('a.example');
    expect(damaged.signed).toBe(1);
    await damaged.flushed();

    const late = new Date(Date.now() + 6.5 * 86_400_000);
    const later = leaves(dir, { now: () => late });
    await later.get('a.example');
    expect(later.signed).toBe(1);
  });

  it('are not served for another host or with another leaf key', async () => {
    const dir = path.join(tempDir(), 'leaves');
    const b = leaves(dir);
    await b.get('b.example');
    await b.flushed();
    const [file] = pems(dir);
    const pem = readFileSync(path.join(dir, file!), 'utf8');
    const c = leaves(dir);
    await c.get('c.example');
    await c.flushed();
    // c.example's file now holds b.example's certificate: refused, signed again.
    writeFileSync(
      path.join(
        dir,
        pems(dir).find((f) => f !== file)!,
      ),
      pem,
    );
    const d = leaves(dir);
    await d.get('c.example');
    expect(d.signed).toBe(1);

    writeFileSync(path.join(dir, 'leaf-key.pem'), 'not a key');
    const rekeyed = leaves(dir);
    await rekeyed.get('b.example');
    expect(rekeyed.signed).toBe(1);
  });

  it('failing to write never fails the leaf: it is counted', async () => {
    const dir = path.join(tempDir(), 'leaves');
    const l = leaves(dir);
    rmSync(dir, { recursive: true });
    writeFileSync(dir, 'a file where the folder was');
    const leaf = await l.get('d.example');
    expect(new X509Certificate(leaf.certPem).checkHost('d.example')).toBe('d.example');
    await l.flushed();
    expect(l.storeFailures).toBe(1);
  });

  it('keep at most the configured number, least recently used first out', async () => {
    const dir = path.join(tempDir(), 'leaves');
    const l = leaves(dir, { max: 3 });
    for (let i = 0; i < 40; i++) await l.get(`h${i}.example`);
    await l.flushed();
    new LeafStore(dir, 3);
    expect(pems(dir)).toHaveLength(3);
  });
});

describe('handshakes through the proxy', () => {
  let sg: RunningSchoolgate;
  let origin: HttpsOrigin;
  let schoolCa: string;
  let dataDir: string;

  beforeAll(async () => {
    const dir = tempDir();
    const publicCa = makeTestCa(dir);
    origin = await startHttpsOrigin((name) => publicCa.issue([name, '127.0.0.1']), 'allowed.test');
    const config = testConfig(
      {
        tunnelPorts: [origin.port],
        tls: { certsDir: path.join(dir, 'certs'), extraCaFiles: [publicCa.file] },
      },
      dir,
    );
    dataDir = config.dataDir;
    sg = await startTestProxy(config);
    schoolCa = sg.proxy.tls!.ca.certPem;
  });
  afterAll(async () => {
    await sg?.stop();
    await origin?.close();
  });

  it('serves a host with SNI from a cert-only context over the shared key', async () => {
    expect(await sg.proxy.tls!.leaves.checkCertOnly()).toBe(true);
    const res = await httpsThroughProxy(sg.address.port, `allowed.test:${origin.port}`, {
      ca: schoolCa,
      requests: ['GET / HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n'],
    });
    expect(res.tlsError).toBeNull();
    expect(res.status).toBe(200);
    expect(res.peer?.subject.CN).toBe('allowed.test');
    await sg.proxy.tls!.leaves.flushed();
    expect(pems(path.join(dataDir, 'leaves'))).toHaveLength(1);
  });

  it('serves a client without SNI from a full context', async () => {
    expect(sg.proxy.tls!.leaves.certOnly).toBe(true);
    const peer = await noSniHandshake(sg.address.port, `127.0.0.1:${origin.port}`, schoolCa);
    expect(peer.subjectaltname).toBe('IP Address:127.0.0.1');
  });
});

/** CONNECT to an IP literal, then TLS without SNI (verified against the address). */
function noSniHandshake(proxyPort: number, authority: string, ca: string): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxyPort, method: 'CONNECT', path: authority });
    req.on('error', reject);
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) return reject(new Error(`CONNECT ${res.statusCode}`));
      const secure = tls.connect({ socket, host: '127.0.0.1', servername: '', ca });
      secure.on('secureConnect', () => {
        resolve(secure.getPeerCertificate());
        secure.destroy();
      });
      secure.on('error', reject);
    });
    req.end();
  });
}
