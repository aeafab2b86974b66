/**
 * HTTPS inspection cost, each figure next to plain CONNECT tunnelling measured in the same run:
 *  - first visit of a new host (the proxy signs a leaf certificate): latency of CONNECT + TLS + one request;
 *  - cached-host TLS handshakes per second through the proxy (CONNECT + handshake, then close);
 *  - requests per second for a small HTTPS page over keep-alive connections.
 * Two schoolgate processes (`serve`, one with tls.inspect on, one off) with the durable audit log on; the
 * HTTPS origin (a wildcard certificate from a throwaway CA both proxies trust) and the load generator run in
 * this process. Loopback only; names are routed with the config's hosts, never DNS.
 *
 *   npm run build && node dist/scripts/bench-tls.js [--seconds 5] [--connections 20] [--hosts 100]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import forge from 'node-forge';
import { caPaths, nativeRsaKeyPair, randomSerial, readCa } from '../src/tls/ca.js';
import { LeafCertificates } from '../src/tls/leaf.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SECONDS = option('seconds', 5);
const CONNECTIONS = option('connections', 20);
const HOSTS = option('hosts', 100);
const dist = path.resolve(path.dirname(new URL(import.meta.url).pathname));
const cli = path.join(dist, '..', 'src', 'cli', 'main.js');
const BODY = 'x'.repeat(1024);

function benchCa(): { caPem: string; certPem: string; keyPem: string } {
  const ca = nativeRsaKeyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = ca.publicKey;
  caCert.serialNumber = randomSerial();
  caCert.validity.notBefore = new Date(Date.now() - 86_400_000);
  caCert.validity.notAfter = new Date(Date.now() + 86_400_000);
  caCert.setSubject([{ name: 'commonName', value: 'bench public CA' }]);
  caCert.setIssuer([{ name: 'commonName', value: 'bench public CA' }]);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, critical: true },
  ]);
  caCert.sign(ca.privateKey, forge.md.sha256.create());
  const leaf = nativeRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = leaf.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = caCert.validity.notBefore;
  cert.validity.notAfter = caCert.validity.notAfter;
  cert.setSubject([{ name: 'commonName', value: '*.bench.test' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: '*.bench.test' },
        { type: 2, value: 'bench.test' },
      ],
    },
  ]);
  cert.sign(ca.privateKey, forge.md.sha256.create());
  return {
    caPem: forge.pki.certificateToPem(caCert),
    certPem: forge.pki.certificateToPem(cert),
    keyPem: leaf.privatePem,
  };
}

function startServe(
  dir: string,
  name: string,
  config: object,
): Promise<{ child: ChildProcess; port: number }> {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, JSON.stringify(config));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        cli,
        'serve',
        '--config',
        file,
        '--data',
        path.join(dir, `data-${name}`),
        '--certs',
        path.join(dir, 'certs'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /filtering on [^\s]+:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`serve ${name} exited ${code}: ${out}`)));
  });
}

/** CONNECT + TLS; resolves with the TLS socket. */
function open(proxyPort: number, host: string, port: number, ca: string[]): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: proxyPort,
      method: 'CONNECT',
      path: `${host}:${port}`,
      headers: { host: `${host}:${port}` },
      agent: false,
    });
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) return reject(new Error(`CONNECT ${res.statusCode}`));
      const s = tls.connect({ socket, servername: host, ca, ALPNProtocols: ['http/1.1'] });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** One GET on an open connection; resolves when the whole response (Content-Length) has arrived. */
function request(
  s: tls.TLSSocket | net.Socket,
  host: string,
  port: number,
  pathName: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const head = buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      const text = buf.subarray(0, head).toString('latin1');
      const length = Number(/content-length: *(\d+)/i.exec(text)?.[1] ?? 0);
      if (buf.length >= head + 4 + length) {
        s.off('data', onData);
        s.off('error', reject);
        resolve(Number(text.slice(9, 12)));
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(`GET ${pathName} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function firstVisits(
  proxyPort: number,
  originPort: number,
  ca: string[],
  prefix: string,
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < HOSTS; i++) {
    const host = `${prefix}${i}.bench.test`;
    const t0 = process.hrtime.bigint();
    const s = await open(proxyPort, host, originPort, ca);
    const status = await request(s, host, originPort, '/first');
    if (status !== 200) throw new Error(`first visit ${host}: ${status}`);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    s.destroy();
  }
  return median(times);
}

async function handshakesPerSecond(proxyPort: number, originPort: number, ca: string[]): Promise<number> {
  let count = 0;
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < end) {
        const s = await open(proxyPort, 'cached.bench.test', originPort, ca);
        count++;
        s.destroy();
      }
    }),
  );
  return count / SECONDS;
}

async function requestsPerSecond(proxyPort: number, originPort: number, ca: string[]): Promise<number> {
  let count = 0;
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const s = await open(proxyPort, 'page.bench.test', originPort, ca);
      while (Date.now() < end) {
        const status = await request(s, 'page.bench.test', originPort, '/small?x=1');
        if (status !== 200) throw new Error(`status ${status}`);
        count++;
      }
      s.destroy();
    }),
  );
  return count / SECONDS;
}

/** Plain HTTP through the same proxy (absolute-form, keep-alive): the per-request filtering baseline. */
async function httpRequestsPerSecond(proxyPort: number, originPort: number): Promise<number> {
  let count = 0;
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const s = net.connect({ host: '127.0.0.1', port: proxyPort });
      await new Promise((r) => s.once('connect', r));
      while (Date.now() < end) {
        const status = await request(
          s,
          'page.bench.test',
          originPort,
          `http://page.bench.test:${originPort}/small`,
        );
        if (status !== 200) throw new Error(`status ${status}`);
        count++;
      }
      s.destroy();
    }),
  );
  return count / SECONDS;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-tls-'));
  const { caPem, certPem, keyPem } = benchCa();
  const caFile = path.join(dir, 'bench-ca.pem');
  writeFileSync(caFile, caPem);
  const origin = https.createServer({ cert: certPem, key: keyPem }, (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  const originPort = (origin.address() as AddressInfo).port;
  const plain = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  const plainPort = (plain.address() as AddressInfo).port;
  const hosts: Record<string, string> = {};
  for (const p of ['new', 'tun']) for (let i = 0; i < HOSTS; i++) hosts[`${p}${i}.bench.test`] = '127.0.0.1';
  for (const name of ['cached', 'page']) hosts[`${name}.bench.test`] = '127.0.0.1';
  const base = {
    listen: { host: '127.0.0.1', port: 0 },
    tunnelPorts: [originPort],
    httpPorts: [plainPort],
    hosts,
    log: { level: 'warn' },
  };
  const inspected = await startServe(dir, 'inspect', {
    ...base,
    tls: { inspect: true, extraCaFiles: [caFile], neverInspect: { categories: [], hosts: [] } },
  });
  const tunnelled = await startServe(dir, 'tunnel', { ...base, tls: { inspect: false } });
  const schoolCa = readFileSync(caPaths(path.join(dir, 'certs')).cert, 'utf8');
  const trustInspect = [schoolCa];
  const trustTunnel = [caPem];

  // Signing alone, in this process: what a first visit adds on the proxy's event loop.
  const ca = readCa(path.join(dir, 'certs'))!;
  const leaves = new LeafCertificates(ca, { validityDays: 7, cacheSize: 10_000 });
  const signT0 = process.hrtime.bigint();
  for (let i = 0; i < 50; i++) await leaves.get(`sign${i}.bench.test`);
  const signMs = Number(process.hrtime.bigint() - signT0) / 1e6 / 50;

  // Warm both proxies (JIT, audit writer, pooled upstream connections).
  for (const [p, trust] of [
    [inspected.port, trustInspect],
    [tunnelled.port, trustTunnel],
  ] as const) {
    const s = await open(p, 'page.bench.test', originPort, [...trust]);
    for (let i = 0; i < 200; i++) await request(s, 'page.bench.test', originPort, '/warm');
    s.destroy();
  }

  const rows: [string, number, number, string][] = [];
  const firstI = await firstVisits(inspected.port, originPort, trustInspect, 'new');
  const firstT = await firstVisits(tunnelled.port, originPort, trustTunnel, 'tun');
  rows.push(['first visit of a new host, median ms (lower is better)', firstI, firstT, 'ms']);
  const hsI = await handshakesPerSecond(inspected.port, originPort, trustInspect);
  const hsT = await handshakesPerSecond(tunnelled.port, originPort, trustTunnel);
  rows.push(['cached-host TLS handshakes/s', hsI, hsT, '/s']);
  const rpsI = await requestsPerSecond(inspected.port, originPort, trustInspect);
  const rpsT = await requestsPerSecond(tunnelled.port, originPort, trustTunnel);
  rows.push(['1 KB HTTPS page, keep-alive requests/s', rpsI, rpsT, '/s']);
  const rpsHttp = await httpRequestsPerSecond(inspected.port, plainPort);

  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));
  console.log(
    `\nHTTPS inspection vs plain CONNECT tunnel (${CONNECTIONS} connections, ${SECONDS} s per figure, ${HOSTS} new hosts; node ${process.version})\n`,
  );
  console.log('| measure | inspected | tunnelled | inspected / tunnelled |');
  console.log('|---|---:|---:|---:|');
  for (const [name, i, t] of rows)
    console.log(`| ${name} | ${fmt(i)} | ${fmt(t)} | ${(i / t).toFixed(2)}× |`);
  console.log(
    `| leaf certificate signing alone (forge builds it, native RSA-2048 signs), ms | ${fmt(signMs)} | – | – |`,
  );
  console.log(
    `| for scale: 1 KB plain-HTTP page through the same proxy (one audit row per request), requests/s | ${fmt(rpsHttp)} | – | inspected / plain HTTP ${(rpsI / rpsHttp).toFixed(2)}× |`,
  );

  const exited = (c: ChildProcess) => new Promise((r) => c.once('exit', r));
  inspected.child.kill('SIGTERM');
  tunnelled.child.kill('SIGTERM');
  await Promise.all([exited(inspected.child), exited(tunnelled.child)]);
  origin.close();
  origin.closeAllConnections();
  plain.close();
  plain.closeAllConnections();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
