/**
 * Loopback receivers for the alert sinks' tests: a webhook server that records what it got and answers
 * from a script, an SMTP server (smtp-server) with STARTTLS on a throwaway self-signed certificate, a port
 * nobody listens on, and a pino logger whose output the test can read. Everything binds 127.0.0.1.
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { simpleParser, type ParsedMail } from 'mailparser';
import forge from 'node-forge';
import { pino, type Logger } from 'pino';
import { SMTPServer } from 'smtp-server';
import { nativeRsaKeyPair, randomSerial } from '../../src/tls/ca.js';

/** Resolves the n-th time `notify()` is called (n counted from 1), for waiting on events, never on time. */
class Arrivals<T> {
  readonly items: T[] = [];
  private waiters: { n: number; resolve: (items: T[]) => void }[] = [];
  push(item: T): void {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => {
      if (this.items.length < w.n) return true;
      w.resolve(this.items.slice());
      return false;
    });
  }
  /** Resolves with all items once at least `n` have arrived. */
  waitFor(n: number): Promise<T[]> {
    if (this.items.length >= n) return Promise.resolve(this.items.slice());
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

export interface ReceivedPost {
  headers: http.IncomingHttpHeaders;
  /** The raw body, exactly as received (the signature is over these bytes). */
  raw: string;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedPost[];
  /** Resolves once `n` requests have been received. */
  waitFor(n: number): Promise<ReceivedPost[]>;
  close(): Promise<void>;
}

/** A webhook receiver; `statusFor(n)` (n = 1 for the first request) says what to answer, 200 by default. */
export async function startWebhookReceiver(
  statusFor: (n: number) => number = () => 200,
): Promise<WebhookReceiver> {
  const arrivals = new Arrivals<ReceivedPost>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = arrivals.items.length + 1;
      const status = statusFor(n);
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'no');
      arrivals.push({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/safeguarding`,
    port,
    received: arrivals.items,
    waitFor: (n) => arrivals.waitFor(n),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port with nothing listening on it (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A self-signed certificate for 127.0.0.1 and localhost, its PEM also written to `dir` (the client's caFile). */
export function loopbackCert(dir: string): { certPem: string; keyPem: string; file: string } {
  const key = nativeRsaKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 2 * 86_400_000);
  const name = [{ name: 'commonName', value: 'schoolgate test smtp' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
      ],
    },
  ]);
  cert.sign(key.privateKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  const file = path.join(dir, 'smtp-test-cert.pem');
  writeFileSync(file, certPem);
  return { certPem, keyPem: key.privatePem, file };
}

export interface ReceivedMail {
  parsed: ParsedMail;
  /** Whether the SMTP session was under TLS when the message was sent. */
  secure: boolean;
  /** The user the client logged in as, or null. */
  user: string | null;
  from: string | null;
  to: string[];
}

export interface SmtpReceiver {
  port: number;
  received: ReceivedMail[];
  waitFor(n: number): Promise<ReceivedMail[]>;
  /** AUTH attempts seen (user names only), accepted or not. */
  authAttempts: string[];
  close(): Promise<void>;
}

/**
 * An SMTP server on 127.0.0.1: plain at connect, STARTTLS with `tls` (refused when `noStartTls`), AUTH
 * required with `user`/`pass` (never allowed before TLS unless `noStartTls`).
 */
export async function startSmtpReceiver(opts: {
  tls: { certPem: string; keyPem: string };
  user: string;
  pass: string;
  noStartTls?: boolean;
}): Promise<SmtpReceiver> {
  const arrivals = new Arrivals<ReceivedMail>();
  const authAttempts: string[] = [];
  const server = new SMTPServer({
    secure: false,
    key: opts.tls.keyPem,
    cert: opts.tls.certPem,
    // Hiding STARTTLS from EHLO is not enough (a client may send it anyway): the command is refused.
    hideSTARTTLS: opts.noStartTls === true,
    disabledCommands: opts.noStartTls === true ? ['STARTTLS'] : [],
    allowInsecureAuth: opts.noStartTls === true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    disableReverseLookup: true,
    onAuth(auth, _session, callback) {
      authAttempts.push(auth.username ?? '');
      if (auth.username === opts.user && auth.password === opts.pass) callback(null, { user: auth.username });
      else callback(new Error('535 5.7.8 Authentication credentials invalid'));
    },
    onData(stream, session, callback) {
      // Read before the callback: the server resets the envelope for the next transaction.
      const secure = session.secure;
      const user = typeof session.user === 'string' ? session.user : null;
      const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : null;
      const to = session.envelope.rcptTo.map((r) => r.address);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        callback(null);
        void simpleParser(Buffer.concat(chunks)).then((parsed) =>
          arrivals.push({ parsed, secure, user, from, to }),
        );
      });
    },
  });
  server.on('error', () => {}); // a client dropping the connection mid-test is not a test failure
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    received: arrivals.items,
    waitFor: (n) => arrivals.waitFor(n),
    authAttempts,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A pino logger at trace level writing to memory: `text()` is everything logged so far. */
export function capturedLogger(): { logger: Logger; text(): string; lines(): Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const logger = pino({ level: 'trace', base: { app: 'schoolgate' } }, stream);
  return {
    logger,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
