/**
 * TLS fixtures for the inspection tests: a throwaway "public" CA (what the origin's certificates chain to,
 * trusted by the proxy through tls.extraCaFiles), HTTPS origins on loopback that answer with a known body
 * and record what they saw, and a client that speaks through the proxy with CONNECT + TLS.
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import Database from 'better-sqlite3';
import forge from 'node-forge';
import { nativeRsaKeyPair, randomSerial } from '../../../src/tls/ca.js';

export interface TestCa {
  certPem: string;
  file: string;
  issue(names: string[], opts?: { expired?: boolean }): { certPem: string; keyPem: string };
}

/** A CA made inside the test, written to `dir` so the proxy can trust it via tls.extraCaFiles. */
export function makeTestCa(dir: string, name = 'schoolgate test public CA'): TestCa {
  const ca = nativeRsaKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = ca.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 30 * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: name }]);
  cert.setIssuer([{ name: 'commonName', value: name }]);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(ca.privateKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  const file = path.join(dir, `${name.replace(/\W+/g, '-')}.pem`);
  writeFileSync(file, certPem);
  const leafKey = nativeRsaKeyPair(2048);
  return {
    certPem,
    file,
    issue(names, opts = {}) {
      const leaf = forge.pki.createCertificate();
      leaf.publicKey = leafKey.publicKey;
      leaf.serialNumber = randomSerial();
      const now = Date.now();
      leaf.validity.notBefore = new Date(now - (opts.expired ? 10 : 1) * 86_400_000);
      leaf.validity.notAfter = new Date(now + (opts.expired ? -2 : 10) * 86_400_000);
      leaf.setSubject([{ name: 'commonName', value: names[0]! }]);
      leaf.setIssuer(cert.subject.attributes);
      leaf.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
      ]);
      leaf.sign(ca.privateKey, forge.md.sha256.create());
      return { certPem: forge.pki.certificateToPem(leaf), keyPem: leafKey.privatePem };
    },
  };
}

/** A certificate signed by its own key (no CA vouches for it). */
export function selfSigned(name: string): { certPem: string; keyPem: string } {
  const key = nativeRsaKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 10 * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: name }]);
  cert.setIssuer([{ name: 'commonName', value: name }]);
  cert.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 2, value: name }] }]);
  cert.sign(key.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: key.privatePem };
}

export interface SeenTls {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  servername: string | undefined;
}

export interface HttpsOrigin {
  port: number;
  seen: SeenTls[];
  close(): Promise<void>;
}

export const HTTPS_BODY = 'hello from the https origin\n';

/** An HTTPS origin on 127.0.0.1: per-SNI certificates from `certFor`. */
export async function startHttpsOrigin(
  certFor: (servername: string) => { certPem: string; keyPem: string },
  fallback: string,
): Promise<HttpsOrigin> {
  const seen: SeenTls[] = [];
  const contexts = new Map<string, tls.SecureContext>();
  const contextFor = (name: string) => {
    let ctx = contexts.get(name);
    if (!ctx) {
      const { certPem, keyPem } = certFor(name);
      ctx = tls.createSecureContext({ cert: certPem, key: keyPem });
      contexts.set(name, ctx);
    }
    return ctx;
  };
  const fb = certFor(fallback);
  const server = https.createServer(
    {
      cert: fb.certPem,
      key: fb.keyPem,
      SNICallback: (name, cb) => cb(null, contextFor(name)),
    },
    (req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          servername: (req.socket as tls.TLSSocket).servername || undefined,
        });
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(HTTPS_BODY) });
        res.end(HTTPS_BODY);
      });
    },
  );
  // WebSocket-style upgrades: answer 101, then echo whatever arrives.
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      servername: (req.socket as tls.TLSSocket).servername || undefined,
    });
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ThroughProxy {
  /** Status of the CONNECT answer. */
  connectStatus: number;
  /** The decrypted response text (status line, headers, body), '' when none. */
  text: string;
  status: number;
  body: string;
  /** The certificate the client was shown. */
  peer: tls.PeerCertificate | null;
  /** Why the client's TLS failed, when it did. */
  tlsError: string | null;
}

/**
 * CONNECT `authority` through the proxy, TLS with `servername` (trusting `ca`), then send each raw request
 * on the one connection and read until the server closes (the last request should say Connection: close).
 */
export function httpsThroughProxy(
  proxyPort: number,
  authority: string,
  opts: {
    ca: string | string[];
    servername?: string;
    proxyAuthorization?: string;
    requests: string[];
    /** Stop reading (and close) once the text so far satisfies this. */
    until?: (text: string) => boolean;
  },
): Promise<ThroughProxy> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: authority };
    if (opts.proxyAuthorization) headers['proxy-authorization'] = opts.proxyAuthorization;
    const req = http.request({
      host: '127.0.0.1',
      port: proxyPort,
      method: 'CONNECT',
      path: authority,
      headers,
    });
    req.setTimeout(10_000, () => req.destroy(new Error('CONNECT timeout')));
    req.on('error', reject);
    req.on('response', (res) => {
      resolve({
        connectStatus: res.statusCode ?? 0,
        text: '',
        status: 0,
        body: '',
        peer: null,
        tlsError: null,
      });
      res.resume();
    });
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return resolve({
          connectStatus: res.statusCode ?? 0,
          text: '',
          status: 0,
          body: '',
          peer: null,
          tlsError: null,
        });
      }
      const servername = opts.servername ?? authority.replace(/:\d+$/, '');
      const secure = tls.connect({ socket, servername, ca: opts.ca, ALPNProtocols: ['http/1.1'] });
      const chunks: Buffer[] = [];
      let peer: tls.PeerCertificate | null = null;
      let tlsError: string | null = null;
      const timer = setTimeout(() => secure.destroy(), 10_000);
      secure.on('secureConnect', () => {
        peer = secure.getPeerCertificate();
        for (const r of opts.requests) secure.write(r);
      });
      secure.on('data', (c: Buffer) => {
        chunks.push(c);
        if (opts.until?.(Buffer.concat(chunks).toString('utf8'))) secure.destroy();
      });
      secure.on('error', (err: Error & { code?: string }) => (tlsError = err.code ?? err.message));
      secure.on('close', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        const head = text.indexOf('\r\n\r\n');
        resolve({
          connectStatus: 200,
          text,
          status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0),
          body: head >= 0 ? text.slice(head + 4) : '',
          peer,
          tlsError,
        });
      });
    });
    req.end();
  });
}

export function get(host: string, path: string, extra: Record<string, string> = {}, close = true): string {
  const lines = [`GET ${path} HTTP/1.1`, `Host: ${host}`];
  for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`);
  if (close) lines.push('Connection: close');
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Every audit row, oldest first, read on a connection of its own (WAL: the proxy's writer is never blocked). */
export function auditRows<T>(auditPath: string): T[] {
  const db = new Database(auditPath, { readonly: true });
  try {
    return db.prepare('SELECT * FROM audit_events ORDER BY time_ms, rowid').all() as T[];
  } finally {
    db.close();
  }
}
