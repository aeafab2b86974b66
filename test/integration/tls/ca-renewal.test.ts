/**
 * Renewing the school CA with an overlap (issue 11 item 2), end to end with real TLS through the proxy:
 * `schoolgate ca renew` stages the next CA and the running proxy publishes it at /ca-next.crt while the old
 * one keeps signing; `ca renew --activate` switches signing without a restart (the CLI reloads the proxy),
 * and a client trusting only the new CA then succeeds where one trusting only the old one fails (and the
 * reverse before). Then: a key that cannot be read at start refuses inspected tunnels (503, a row), never a
 * raw tunnel, and a reload with a fixed CA resumes inspection. Status and /metrics say which CA is where.
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../../src/app/control.js';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import type { StatusReport } from '../../../src/app/status.js';
import {
  activateNextCa,
  nextCaPaths,
  PREVIOUS_CA_CERT_FILE,
  stageNextCa,
} from '../../../src/tls/ca-renew.js';
import { caPaths, loadOrCreateCa } from '../../../src/tls/ca.js';
import { runCli } from '../../helpers/cli.js';
import { parseMetrics, valueOf, familyOf, type Metrics } from '../../helpers/prometheus.js';
import { rawExchange } from '../../helpers/raw-http.js';
import { startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';
import {
  auditRows,
  get,
  HTTPS_BODY,
  httpsThroughProxy,
  makeTestCa,
  startHttpsOrigin,
  type HttpsOrigin,
  type TestCa,
} from './fixtures.js';

let publicCa: TestCa;
let origin: HttpsOrigin;

beforeAll(async () => {
  publicCa = makeTestCa(tempDir());
  origin = await startHttpsOrigin((name) => publicCa.issue([name]), 'allowed.test');
});
afterAll(async () => {
  await origin?.close();
});

interface Proxy {
  sg: RunningSchoolgate;
  certs: string;
  dataDir: string;
}

async function startProxy(prepare?: (certs: string) => void): Promise<Proxy> {
  const dir = tempDir();
  const certs = path.join(dir, 'certs');
  prepare?.(certs);
  const config = testConfig(
    { tunnelPorts: [origin.port], tls: { certsDir: certs, extraCaFiles: [publicCa.file] } },
    dir,
  );
  return { sg: await startTestProxy(config), certs, dataDir: config.dataDir };
}

function page(p: Proxy, url: string) {
  return rawExchange(
    p.sg.address.port,
    `GET ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
  );
}

async function derAt(p: Proxy, url: string): Promise<X509Certificate> {
  const res = await page(p, url);
  expect(res.status, res.body).toBe(200);
  return new X509Certificate(Buffer.from(res.body, 'latin1'));
}

async function scrape(p: Proxy): Promise<Metrics> {
  const res = await page(p, '/metrics');
  expect(res.status).toBe(200);
  return parseMetrics(res.body);
}

/** The `ca` series of schoolgate_ca_expiry_timestamp_seconds, as label → Unix seconds. */
function caExpiries(m: Metrics): Record<string, number> {
  const family = familyOf(m, 'schoolgate_ca_expiry_timestamp_seconds');
  return Object.fromEntries(family.samples.map((s) => [s.labels.ca!, s.value]));
}

/** An inspected GET through the proxy, as a device that trusts exactly `trusts`. */
function browse(p: Proxy, trusts: string[], pathname = '/renewal') {
  return httpsThroughProxy(p.sg.address.port, `allowed.test:${origin.port}`, {
    ca: trusts,
    requests: [get(`allowed.test:${origin.port}`, pathname)],
  });
}

function status(p: Proxy): Promise<StatusReport> {
  return controlRequest<StatusReport>(p.dataDir, 'status');
}

describe('ca renew: stage, publish, activate, with a running proxy', () => {
  let p: Proxy;
  let oldCa: string;
  let newCa: string;

  beforeAll(async () => {
    p = await startProxy();
    oldCa = p.sg.proxy.tls!.ca.certPem;
  });
  afterAll(async () => {
    await p?.sg.stop();
  });

  it('stages the next CA beside the current one (key owner-only) and the proxy publishes it at /ca-next.crt', async () => {
    expect((await page(p, '/ca-next.crt')).status).toBe(404);
    const res = await runCli(['ca', 'renew', '--certs', p.certs, '--data', p.dataDir, '--reason', 'test']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('staged the next school CA');
    expect(res.stdout).toContain('running proxy reloaded');
    expect(statSync(nextCaPaths(p.certs).key).mode & 0o777).toBe(0o600);
    newCa = readFileSync(nextCaPaths(p.certs).cert, 'utf8');
    const staged = new X509Certificate(newCa);
    const current = new X509Certificate(oldCa);
    expect(staged.fingerprint256).not.toBe(current.fingerprint256);
    expect(staged.publicKey.export({ format: 'pem', type: 'spki' })).not.toEqual(
      current.publicKey.export({ format: 'pem', type: 'spki' }),
    );
    expect(staged.serialNumber).not.toBe(current.serialNumber);
    expect(staged.subject).toContain('gen 2');
    expect(staged.ca).toBe(true);

    // The current CA at /ca.crt (still signing), the staged one on its own URL, DER and PEM.
    expect((await derAt(p, '/ca.crt')).fingerprint256).toBe(current.fingerprint256);
    expect((await derAt(p, '/ca-next.crt')).fingerprint256).toBe(staged.fingerprint256);
    const pem = await page(p, '/ca-next.pem');
    expect(pem.body).toBe(newCa);
    expect(pem.body).not.toContain('PRIVATE');
    const help = await page(p, '/ca');
    expect(help.body).toContain(staged.fingerprint256);
    expect(help.body).toContain('/ca-next.crt');

    const db = new Database(path.join(p.dataDir, 'state.sqlite'), { readonly: true });
    const change = db.prepare("SELECT action, reason FROM admin_changes WHERE action LIKE 'ca.%'").get();
    db.close();
    expect(change).toEqual({ action: 'ca.renew.stage', reason: 'test' });
  });

  it('a second `ca renew` keeps the staged CA (devices may have it already)', async () => {
    const res = await runCli(['ca', 'renew', '--certs', p.certs, '--data', p.dataDir]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('already staged');
    expect(readFileSync(nextCaPaths(p.certs).cert, 'utf8')).toBe(newCa);
  });

  it('before activation: the old CA signs; a device trusting only the new one fails, only the old one succeeds', async () => {
    const oldOnly = await browse(p, [oldCa]);
    expect(oldOnly.tlsError).toBeNull();
    expect(oldOnly.status).toBe(200);
    expect(oldOnly.body).toBe(HTTPS_BODY);
    const newOnly = await browse(p, [newCa], '/never-sent');
    expect(newOnly.tlsError).not.toBeNull();
    expect(newOnly.status).toBe(0);
    expect(origin.seen.some((s) => s.url === '/never-sent')).toBe(false);
    const both = await browse(p, [oldCa, newCa]);
    expect(both.status).toBe(200);
  });

  it('status and /metrics show both CAs’ expiry, the days left and that inspection is available', async () => {
    const s = await status(p);
    const current = new X509Certificate(oldCa);
    const staged = new X509Certificate(newCa);
    expect(s.ca).toMatchObject({
      inspection: true,
      problem: null,
      expiringSoon: false,
      current: { fingerprint256: current.fingerprint256, notAfter: new Date(current.validTo).toISOString() },
      next: { fingerprint256: staged.fingerprint256, notAfter: new Date(staged.validTo).toISOString() },
    });
    const daysLeft = Math.floor((Date.parse(current.validTo) - Date.now()) / 86_400_000);
    expect(Math.abs(s.ca!.current!.daysLeft - daysLeft)).toBeLessThanOrEqual(1);
    const text = await runCli(['status', '--data', p.dataDir]);
    expect(text.stdout).toMatch(/school CA +expires \d{4}-\d\d-\d\d \(\d+ days left\)/);
    expect(text.stdout).toMatch(/next CA +staged, expires/);

    const m = await scrape(p);
    expect(caExpiries(m)).toEqual({
      current: Date.parse(current.validTo) / 1000,
      next: Date.parse(staged.validTo) / 1000,
    });
    expect(valueOf(m, 'schoolgate_inspection_available')).toBe(1);
  });

  it('`ca renew --activate` switches signing without a restart: the cached leaf is replaced, only the new CA is needed', async () => {
    const signedBefore = p.sg.proxy.tls!.leaves.signed;
    const res = await runCli(['ca', 'renew', '--activate', '--certs', p.certs, '--data', p.dataDir]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('activated the school CA');
    expect(res.stdout).toContain('school CA switched');
    expect(readFileSync(caPaths(p.certs).cert, 'utf8')).toBe(newCa);
    expect(readFileSync(path.join(p.certs, PREVIOUS_CA_CERT_FILE), 'utf8')).toBe(oldCa);
    expect(statSync(caPaths(p.certs).key).mode & 0o777).toBe(0o600);
    expect(() => statSync(nextCaPaths(p.certs).cert)).toThrow();

    // allowed.test's leaf was cached under the old CA: the switch emptied the cache, so it is signed again.
    const newOnly = await browse(p, [newCa]);
    expect(newOnly.tlsError).toBeNull();
    expect(newOnly.status).toBe(200);
    expect(newOnly.peer?.issuer.CN).toContain('gen 2');
    expect(p.sg.proxy.tls!.leaves.signed).toBe(signedBefore + 1);
    const oldOnly = await browse(p, [oldCa], '/never-sent-after');
    expect(oldOnly.tlsError).not.toBeNull();
    expect(origin.seen.some((s) => s.url === '/never-sent-after')).toBe(false);
    expect((await browse(p, [oldCa, newCa])).status).toBe(200);
  });

  it('after activation /ca.crt is the new CA, nothing is staged, and status and /metrics follow', async () => {
    expect((await derAt(p, '/ca.crt')).fingerprint256).toBe(new X509Certificate(newCa).fingerprint256);
    expect((await page(p, '/ca-next.crt')).status).toBe(404);
    const s = await status(p);
    expect(s.ca!.next).toBeNull();
    expect(s.ca!.current!.fingerprint256).toBe(new X509Certificate(newCa).fingerprint256);
    const m = await scrape(p);
    expect(caExpiries(m)).toEqual({ current: Date.parse(new X509Certificate(newCa).validTo) / 1000 });
    expect(valueOf(m, 'schoolgate_inspection_available')).toBe(1);
  });

  it('--activate with nothing staged says so and changes nothing', async () => {
    const res = await runCli(['ca', 'renew', '--activate', '--certs', p.certs, '--data', p.dataDir]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('no next school CA is staged');
    expect(readFileSync(caPaths(p.certs).cert, 'utf8')).toBe(newCa);
  });
});

describe('a school CA key that cannot be read at start', () => {
  let p: Proxy;
  let certPem: string;

  beforeAll(async () => {
    p = await startProxy((certs) => {
      certPem = loadOrCreateCa(certs).ca.certPem;
      // A folder where the key should be: reading it fails (EISDIR) whoever the tests run as.
      rmSync(caPaths(certs).key);
      mkdirSync(caPaths(certs).key);
    });
  });
  afterAll(async () => {
    await p?.sg.stop();
  });

  it('refuses an inspected tunnel with 503 SG_CA_UNUSABLE and a row, never a raw tunnel', async () => {
    const authority = `allowed.test:${origin.port}`;
    const seen = origin.seen.length;
    const res = await rawExchange(
      p.sg.address.port,
      `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`,
    );
    expect(res.status).toBe(503);
    expect(res.raw).toContain('SG_CA_UNUSABLE');
    expect(origin.seen.length).toBe(seen);
    const rows = auditRows<{ kind: string; action: string; reason: string; status: number; host: string }>(
      p.sg.auditPath,
    );
    expect(rows.map((r) => [r.kind, r.host, r.action, r.reason, r.status])).toEqual([
      ['tunnel', 'allowed.test', 'error', 'SG_CA_UNUSABLE', 503],
    ]);
    // The certificate devices trust was kept, not replaced by a new CA.
    expect(readFileSync(caPaths(p.certs).cert, 'utf8')).toBe(certPem);
  });

  it('says so on /healthz, in status and on /metrics', async () => {
    const health = await page(p, '/healthz');
    expect(health.status).toBe(503);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'inspection-unavailable', inspection: false });
    const s = await status(p);
    expect(s.ca).toMatchObject({ inspection: false, current: null, next: null });
    expect(s.ca!.problem).toContain('cannot read the school CA files');
    const text = await runCli(['status', '--data', p.dataDir]);
    expect(text.stdout).toContain('school CA      UNUSABLE');
    const m = await scrape(p);
    expect(valueOf(m, 'schoolgate_inspection_available')).toBe(0);
    expect(caExpiries(m)).toEqual({});
    expect((await page(p, '/ca.crt')).body).toContain('SG_CA_UNUSABLE');
  });

  it('a reload after a new CA is activated resumes inspection without a restart', async () => {
    rmSync(caPaths(p.certs).key, { recursive: true });
    stageNextCa(p.certs);
    const { activated } = activateNextCa(p.certs);
    const reload = await p.sg.reload();
    expect(reload.ca).toContain('HTTPS inspection resumed');
    const res = await browse(p, [activated.certPem]);
    expect(res.tlsError).toBeNull();
    expect(res.status).toBe(200);
    expect((await status(p)).ca).toMatchObject({ inspection: true, problem: null });
    expect(valueOf(await scrape(p), 'schoolgate_inspection_available')).toBe(1);
  });
});
