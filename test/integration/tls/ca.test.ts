/**
 * The school CA and its leaf certificates: files and modes, what the certificates say (checked with Node's
 * own X509Certificate and a real chain verification), the `ca` CLI, and /ca.crt on the proxy's own pages.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { caPaths, createCa, generateCa, loadOrCreateCa, readCa } from '../../../src/tls/ca.js';
import { expiryWarning, loadSchoolCa } from '../../../src/app/school-ca.js';
import { LeafCertificates } from '../../../src/tls/leaf.js';
import { runCli } from '../../helpers/cli.js';
import { rawExchange } from '../../helpers/raw-http.js';
import { startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';

describe('the school CA', () => {
  it('is created once, key owner-only, and loaded again unchanged', () => {
    const dir = path.join(tempDir(), 'certs');
    const first = loadOrCreateCa(dir);
    expect(first.created).toBe(true);
    expect(statSync(caPaths(dir).key).mode & 0o777).toBe(0o600);
    const again = loadOrCreateCa(dir);
    expect(again.created).toBe(false);
    expect(again.ca.fingerprint256).toBe(first.ca.fingerprint256);
    const x509 = new X509Certificate(readFileSync(caPaths(dir).cert));
    expect(x509.ca).toBe(true);
    expect(x509.checkIssued(x509)).toBe(true);
    expect(x509.checkPrivateKey(createPrivateKey(readFileSync(caPaths(dir).key)))).toBe(true);
  });

  it('is replaced only with force', () => {
    const dir = path.join(tempDir(), 'certs');
    const a = createCa(dir).ca;
    expect(createCa(dir).ca.fingerprint256).toBe(a.fingerprint256);
    expect(createCa(dir, { force: true }).ca.fingerprint256).not.toBe(a.fingerprint256);
  });
});

describe('the school CA at startup', () => {
  function capture() {
    const lines: { level: number; msg: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
        done();
      },
    });
    return { logger: pino({ level: 'info' }, sink), lines };
  }

  it('keeps an expired CA (so inspected HTTPS fails closed) and says so with an error', () => {
    const dir = path.join(tempDir(), 'certs');
    mkdirSync(dir, { recursive: true });
    const old = generateCa(new Date(Date.now() - 11 * 365 * 86_400_000));
    writeFileSync(caPaths(dir).cert, old.certPem);
    writeFileSync(caPaths(dir).key, old.keyPem, { mode: 0o600 });
    const { logger, lines } = capture();
    expect(loadSchoolCa(testConfig(), dir, logger)!.signing!.notAfter.getTime()).toBeLessThan(Date.now());
    expect(lines.some((l) => l.level === 50 && /expired/.test(l.msg) && /REFUSED/.test(l.msg))).toBe(true);
  });

  it('warns when the CA expires within 30 days', () => {
    const dir = path.join(tempDir(), 'certs');
    mkdirSync(dir, { recursive: true });
    const old = generateCa(new Date(Date.now() - (10 * 365 - 20) * 86_400_000));
    writeFileSync(caPaths(dir).cert, old.certPem);
    writeFileSync(caPaths(dir).key, old.keyPem, { mode: 0o600 });
    const { logger, lines } = capture();
    expect(loadSchoolCa(testConfig(), dir, logger)!.signing).not.toBeNull();
    expect(lines.some((l) => l.level === 40 && /expires soon/.test(l.msg))).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('PRIVATE KEY');
  });

  it('warns from 30 days before expiry, not earlier, and says expired (an error) once past it', () => {
    const ca = loadOrCreateCa(path.join(tempDir(), 'certs')).ca;
    const at = (msBefore: number) => expiryWarning(ca, null, new Date(ca.notAfter.getTime() - msBefore));
    const day = 86_400_000;
    expect(at(31 * day)).toBeNull();
    expect(at(30 * day)).toBeNull(); // 30 whole days left
    expect(at(30 * day - 1)).toMatchObject({ level: 'warn', fields: { daysLeft: 29 } });
    expect(at(1)).toMatchObject({ level: 'warn', fields: { daysLeft: 0 } });
    expect(at(-1)).toMatchObject({ level: 'error', fields: { code: 'SG_CA_UNUSABLE' } });
    expect(at(day)!.message).toContain('schoolgate ca renew');
    expect(expiryWarning(ca, ca, new Date(ca.notAfter.getTime() - day))!.message).toContain('--activate');
  });

  // Each leaves a certificate devices trust and no key that can sign for it: never replaced by a new CA.
  it.each([
    ['missing', (key: string) => rmSync(key)],
    ['unreadable (a folder in its place)', (key: string) => (rmSync(key), mkdirSync(key))],
    ['garbage', (key: string) => writeFileSync(key, 'not a key\n')],
    ['another CA’s key', (key: string) => writeFileSync(key, generateCa().keyPem)],
  ])(
    'a key that is %s is SG_CA_UNUSABLE: no signing CA, an error logged, the certificate kept',
    (_, spoil) => {
      const dir = path.join(tempDir(), 'certs');
      const made = loadOrCreateCa(dir).ca;
      spoil(caPaths(dir).key);
      const { logger, lines } = capture();
      const files = loadSchoolCa(testConfig(), dir, logger)!;
      expect(files.signing).toBeNull();
      expect(files.problem).toMatch(/school CA/);
      expect(
        lines.some(
          (l) => l.level === 50 && /REFUSED/.test(l.msg) && /SG_CA_UNUSABLE/.test(JSON.stringify(l)),
        ),
      ).toBe(true);
      expect(readFileSync(caPaths(dir).cert, 'utf8')).toBe(made.certPem);
      expect(() => readCa(dir)).toThrow(expect.objectContaining({ code: 'SG_CA_UNUSABLE' }) as Error);
    },
  );
});

describe('leaf certificates', () => {
  const ca = loadOrCreateCa(path.join(tempDir(), 'certs')).ca;
  const leaves = new LeafCertificates(ca, { validityDays: 7, cacheSize: 16 });
  const caX509 = new X509Certificate(ca.certPem);

  it('chain to the CA, name the host in the SAN, are short-lived server certificates with random serials', async () => {
    const a = new X509Certificate((await leaves.get('www.example.org')).certPem);
    const b = new X509Certificate((await leaves.get('other.example.org')).certPem);
    expect(a.verify(caX509.publicKey)).toBe(true);
    expect(a.checkIssued(caX509)).toBe(true);
    expect(a.subjectAltName).toBe('DNS:www.example.org');
    expect(a.checkHost('www.example.org')).toBe('www.example.org');
    expect(a.checkHost('example.org')).toBeUndefined();
    expect(a.ca).toBe(false);
    expect(a.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // EKU serverAuth
    const days = (Date.parse(a.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);
    expect(a.serialNumber).not.toBe(b.serialNumber);
    expect(a.serialNumber.length).toBeGreaterThanOrEqual(30);
    expect(a.publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      b.publicKey.export({ type: 'spki', format: 'der' }),
    );
  });

  it('use an IP SAN for IP literals', async () => {
    const leaf = new X509Certificate((await leaves.get('192.0.2.7')).certPem);
    expect(leaf.subjectAltName).toBe('IP Address:192.0.2.7');
    expect(leaf.checkIP('192.0.2.7')).toBe('192.0.2.7');
  });

  it('are cached: a second visit signs nothing', async () => {
    await leaves.get('cached.example.org');
    const before = leaves.signed;
    await leaves.get('cached.example.org');
    expect(leaves.signed).toBe(before);
  });
});

describe('schoolgate ca (CLI)', () => {
  it('init creates the CA, export writes the certificate (PEM and DER) and never the key', async () => {
    const dir = path.join(tempDir(), 'certs');
    const init = await runCli(['ca', 'init', '--certs', dir]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('created the school CA');
    const again = await runCli(['ca', 'init', '--certs', dir]);
    expect(again.stdout).toContain('kept the existing school CA');

    const pem = await runCli(['ca', 'export', '--certs', dir]);
    expect(pem.code).toBe(0);
    expect(pem.stdout).toBe(readFileSync(caPaths(dir).cert, 'utf8'));
    expect(pem.stdout).not.toContain('PRIVATE KEY');

    const out = path.join(tempDir(), 'ca.der');
    const der = await runCli(['ca', 'export', '--der', '--out', out, '--certs', dir]);
    expect(der.code, der.stderr).toBe(0);
    expect(new X509Certificate(readFileSync(out)).fingerprint256).toBe(readCa(dir)!.fingerprint256);

    const both = await runCli(['ca', 'export', '--der', '--pem', '--certs', dir]);
    expect(both.code).not.toBe(0);
  });

  it('export without a CA says how to make one', async () => {
    const res = await runCli(['ca', 'export', '--certs', path.join(tempDir(), 'none')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('schoolgate ca init');
  });
});

describe('/ca.crt on the proxy', () => {
  it('serves the certificate (DER and PEM) and the install help, never the key', async () => {
    const dir = tempDir();
    const sg = await startTestProxy(testConfig({ tls: { certsDir: path.join(dir, 'certs') } }, dir));
    try {
      const port = sg.address.port;
      const der = await rawExchange(
        port,
        'GET /ca.crt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
      );
      expect(der.status).toBe(200);
      expect(der.headers['content-type']).toBe('application/x-x509-ca-cert');
      const body = Buffer.from(der.body, 'latin1');
      expect(new X509Certificate(body).fingerprint256).toBe(sg.proxy.tls!.ca.fingerprint256);
      const pem = await rawExchange(
        port,
        'GET /ca.pem HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
      );
      expect(pem.body).toContain('BEGIN CERTIFICATE');
      expect(pem.body).not.toContain('PRIVATE');
      const help = await rawExchange(
        port,
        'GET /ca HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
      );
      expect(help.status).toBe(200);
      for (const platform of ['Windows', 'ChromeOS', 'iPad', 'macOS', 'Firefox'])
        expect(help.body).toContain(platform);
      expect(help.body).toContain(sg.proxy.tls!.ca.fingerprint256);
      const key = await rawExchange(
        port,
        'GET /schoolgate-ca.key HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
      );
      expect(key.status).toBe(404);
    } finally {
      await sg.stop();
    }
  });
});
