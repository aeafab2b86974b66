/**
 * Origins that present the certificates a browser would refuse: an HTTPS server that serves each SNI name
 * its own chain, at OpenSSL security level 0 so it will load SHA-1 and MD5 certificates at all; and a fake
 * TLS 1.2 server whose Certificate message holds bytes that are not DER, which no real TLS stack would send.
 */
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { Issued } from '../../helpers/certs.js';

export interface Served {
  leaf: Issued;
  /** Intermediates as the server sends them, nearest the leaf first. */
  chain?: Issued[];
}

export interface CertOrigin {
  port: number;
  close(): Promise<void>;
}

export const ORIGIN_BODY = 'hello from the origin\n';

export async function startCertOrigin(byName: Record<string, Served>, fallback: string): Promise<CertOrigin> {
  const contextOf = ({ leaf, chain = [] }: Served) => ({
    cert: [leaf, ...chain].map((c) => c.certPem).join(''),
    key: leaf.keyPem,
    ciphers: 'DEFAULT@SECLEVEL=0',
  });
  const contexts = new Map(
    Object.entries(byName).map(([name, served]) => [name, tls.createSecureContext(contextOf(served))]),
  );
  const server = https.createServer(
    {
      ...contextOf(byName[fallback]!),
      SNICallback: (name, cb) => cb(null, contexts.get(name) ?? contexts.get(fallback)!),
    },
    (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(ORIGIN_BODY) });
      res.end(ORIGIN_BODY);
    },
  );
  server.on('tlsClientError', () => undefined); // the proxy hangs up on the certificates it refuses
  return listen(server);
}

/**
 * Answers any ClientHello with a TLS 1.2 ServerHello (ECDHE-RSA-AES128-GCM-SHA256, secure renegotiation
 * announced, as OpenSSL clients require) and a Certificate message carrying `der` as the only certificate.
 */
export async function startBadDerOrigin(der: Buffer): Promise<CertOrigin> {
  const hello = handshake(
    2,
    Buffer.concat([
      Buffer.from([3, 3]),
      randomBytes(32),
      Buffer.from([0, 0xc0, 0x2f, 0]), // no session id, the suite, no compression
      Buffer.from([0, 5, 0xff, 0x01, 0, 1, 0]), // extensions: renegotiation_info, empty
    ]),
  );
  const certificate = handshake(11, Buffer.concat([u24(der.length + 3), u24(der.length), der]));
  const flight = Buffer.concat([record(hello), record(certificate)]);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('data', () => socket.write(flight));
  });
  const listening = await listen(server);
  return {
    port: listening.port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return listening.close();
    },
  };
}

function u24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

function handshake(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), u24(body.length), body]);
}

function record(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x16, 3, 3, body.length >> 8, body.length & 0xff]), body]);
}

async function listen(server: net.Server): Promise<CertOrigin> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        (server as Partial<https.Server>).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
