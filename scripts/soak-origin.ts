/**
 * The origins for scripts/soak.ts, in their own process: a plain HTTP origin (1 KB pages; WebSocket
 * upgrades answered 101 and echoed) and an HTTPS origin whose certificate chains to a throwaway "public" CA
 * written to <dir>/public-ca.pem (the proxy trusts it through tls.extraCaFiles). Loopback only.
 *
 *   node dist/scripts/soak-origin.js <dir> <https host name>
 * Prints "origin http=<port> https=<port>" once both listen.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import forge from 'node-forge';
import { nativeRsaKeyPair, randomSerial } from '../src/tls/ca.js';

const [dir, httpsName] = process.argv.slice(2);
if (!dir || !httpsName) throw new Error('usage: soak-origin.js <dir> <https host name>');

const DAY = 86_400_000;

function certificate(
  subject: string,
  issuer: { name: string; key: forge.pki.rsa.PrivateKey } | null,
  key: { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey },
  ca: boolean,
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - DAY);
  cert.validity.notAfter = new Date(Date.now() + 10 * DAY);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer([{ name: 'commonName', value: issuer?.name ?? subject }]);
  cert.setExtensions(
    ca
      ? [
          { name: 'basicConstraints', cA: true, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        ]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: [{ type: 2, value: subject }] },
        ],
  );
  cert.sign(issuer?.key ?? key.privateKey, forge.md.sha256.create());
  return cert;
}

const caName = 'schoolgate soak public CA';
const caKey = nativeRsaKeyPair(2048);
const caCert = certificate(caName, null, caKey, true);
writeFileSync(path.join(dir, 'public-ca.pem'), forge.pki.certificateToPem(caCert));
const leafKey = nativeRsaKeyPair(2048);
const leafCert = certificate(httpsName, { name: caName, key: caKey.privateKey }, leafKey, false);

const body = Buffer.alloc(1024, 'x');
const page = (_req: http.IncomingMessage, res: http.ServerResponse) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
};
/** Answers the handshake and echoes whatever the client sends (frames are not parsed: bytes are bytes). */
const echoUpgrade = (req: http.IncomingMessage, socket: Duplex) => {
  const accept = createHash('sha1')
    .update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
    .digest('base64');
  socket.on('error', () => socket.destroy());
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  socket.pipe(socket);
};

const plain = http.createServer(page);
plain.keepAliveTimeout = 60_000;
plain.on('upgrade', echoUpgrade);
const secure = https.createServer(
  { cert: forge.pki.certificateToPem(leafCert), key: leafKey.privatePem },
  page,
);
secure.keepAliveTimeout = 60_000;

const listening = (s: http.Server) =>
  new Promise<number>((resolve) =>
    s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)),
  );
const [httpPort, httpsPort] = await Promise.all([listening(plain), listening(secure)]);
console.log(`origin http=${httpPort} https=${httpsPort}`);
process.on('SIGTERM', () => process.exit(0));
