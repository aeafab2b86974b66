/**
 * The school CA: one RSA key and a self-signed certificate, kept in the certs folder
 * (schoolgate-ca.crt, schoolgate-ca.key). Generated on first start when absent; the key file is written
 * owner-only (0600) and is never served, logged or exported. node-forge builds the X.509 structures (mockttp
 * notes forge is no longer maintained; @peculiar/x509 + WebCrypto is the likely replacement); the key pair
 * itself comes from Node's native crypto, which is ~100× faster than forge's pure-JS RSA.
 */
import {
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { chmodSync, existsSync, linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import forge from 'node-forge';
import { makePrivateDir } from '../app/file-modes.js';
import { SchoolgateError } from '../errors.js';

export const CA_CERT_FILE = 'schoolgate-ca.crt';
export const CA_KEY_FILE = 'schoolgate-ca.key';
const CA_VALIDITY_YEARS = 10;
/**
 * Warn (log, `status`) when the CA ends within this many days: enough to stage the next CA
 * (`schoolgate ca renew`), roll it out by GPO/MDM beside the current one, and activate it.
 */
export const CA_EXPIRY_WARNING_DAYS = 30;

export interface SchoolCa {
  /** PEM of the public certificate (what devices install). */
  readonly certPem: string;
  readonly certDer: Buffer;
  readonly cert: forge.pki.Certificate;
  /** The private key, for signing leaf certificates only (never serialised back out). */
  readonly key: forge.pki.rsa.PrivateKey;
  /** The same key as a native KeyObject: signatures are made with Node's crypto (~50× faster than forge). */
  readonly keyObject: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subject: string;
  /** SHA-256 fingerprint, colon-separated hex (what a technician compares on a device). */
  readonly fingerprint256: string;
}

export interface CaPaths {
  cert: string;
  key: string;
}

export function caPaths(certsDir: string): CaPaths {
  return { cert: path.join(certsDir, CA_CERT_FILE), key: path.join(certsDir, CA_KEY_FILE) };
}

/** A random positive serial (RFC 5280: at most 20 octets, positive): 16 random bytes, top bit cleared. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes.toString('hex');
}

/**
 * Signs a forge certificate with SHA-256/RSA using Node's native crypto: forge builds the TBSCertificate,
 * OpenSSL makes the signature (forge's pure-JS RSA takes ~50 ms and would stall the event loop).
 */
export function signNative(
  cert: forge.pki.Certificate,
  key: KeyObject,
  /** Replaces the SubjectPublicKeyInfo (DER), for subject keys forge cannot encode (ECDSA). */
  subjectPublicKeyInfo?: Buffer,
): void {
  const oid = forge.pki.oids.sha256WithRSAEncryption!;
  cert.signatureOid = oid;
  cert.siginfo.algorithmOid = oid;
  // getTBSCertificate is part of forge's pki API but missing from @types/node-forge.
  const pki = forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 };
  const tbs = pki.getTBSCertificate(cert);
  if (subjectPublicKeyInfo) {
    // TBSCertificate ::= SEQUENCE { [0] version, serial, signature, issuer, validity, subject, spki, ... }
    const fields = tbs.value as forge.asn1.Asn1[];
    fields[6] = forge.asn1.fromDer(subjectPublicKeyInfo.toString('binary'));
  }
  (cert as { tbsCertificate?: forge.asn1.Asn1 }).tbsCertificate = tbs;
  const der = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  cert.signature = sign('sha256', der, key).toString('binary');
}

/** A fresh RSA key pair from Node's native crypto, as forge objects. */
export function nativeRsaKeyPair(bits = 2048): {
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
  privatePem: string;
} {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const key = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e), privatePem: privateKey };
}

/** The name a device shows for a CA made without tls.caName. */
export const DEFAULT_CA_NAME = 'schoolgate school CA';
const DEFAULT_CA_ORGANIZATION = 'schoolgate web filter';

/**
 * Builds a new CA certificate and key (nothing written). A renewed CA (`generation` 2, 3, ...) says so in its
 * name, so a device that holds both during the overlap shows two names a technician can tell apart.
 * `name` (tls.caName) is the organisation and the start of the common name a device shows.
 */
export function generateCa(
  now = new Date(),
  opts: { generation?: number; name?: string | null } = {},
): { certPem: string; keyPem: string } {
  const { publicKey, privatePem } = nativeRsaKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(now.getTime() - 24 * 3600_000);
  cert.validity.notAfter = new Date(now.getTime());
  cert.validity.notAfter.setFullYear(now.getFullYear() + CA_VALIDITY_YEARS);
  const name =
    hostname()
      .replace(/[^A-Za-z0-9.-]/g, '')
      .slice(0, 40) || 'schoolgate';
  const generation = opts.generation && opts.generation > 1 ? `, gen ${opts.generation}` : '';
  const attrs = [
    {
      name: 'commonName',
      value: `${opts.name ?? DEFAULT_CA_NAME} (${name}, ${now.toISOString().slice(0, 10)}${generation})`,
    },
    { name: 'organizationName', value: opts.name ?? DEFAULT_CA_ORGANIZATION },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signNative(cert, createPrivateKey(privatePem));
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privatePem };
}

/**
 * Reads the CA from the certs folder; null only when neither file is there (a first start). A certificate
 * without its key, an unreadable file or a key that is not the certificate's is SG_CA_UNUSABLE: never
 * silently replaced by a new CA, which no device trusts.
 */
export function readCa(certsDir: string): SchoolCa | null {
  const paths = caPaths(certsDir);
  if (!existsSync(paths.key)) {
    if (!existsSync(paths.cert)) return null;
    throw caError(certsDir, `the school CA key is missing (${paths.key})`, null);
  }
  // A concurrent first start may have linked the key and not yet renamed the certificate in: wait briefly.
  for (let i = 0; i < 50 && !existsSync(paths.cert); i++) sleepSync(40);
  return readCaFiles(paths, certsDir);
}

/** Reads and checks one certificate and key pair (the signing CA, or the staged next one). */
export function readCaFiles(paths: CaPaths, certsDir: string): SchoolCa {
  let certPem: string;
  let keyPem: string;
  try {
    certPem = readFileSync(paths.cert, 'utf8');
    keyPem = readFileSync(paths.key, 'utf8');
  } catch (err) {
    throw caError(certsDir, 'cannot read the school CA files', err);
  }
  return parseCa(certPem, keyPem, certsDir);
}

function parseCa(certPem: string, keyPem: string, certsDir: string): SchoolCa {
  try {
    const cert = forge.pki.certificateFromPem(certPem);
    const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
    const certPublic = cert.publicKey as forge.pki.rsa.PublicKey;
    if (certPublic.n.compareTo(key.n) !== 0) throw new Error('the key does not belong to the certificate');
    const x509 = new X509Certificate(certPem);
    return {
      certPem,
      certDer: x509.raw,
      cert,
      key,
      keyObject: createPrivateKey(keyPem),
      notBefore: new Date(x509.validFrom),
      notAfter: new Date(x509.validTo),
      subject: x509.subject.replace(/\n/g, ', '),
      fingerprint256: x509.fingerprint256,
    };
  } catch (err) {
    throw caError(certsDir, 'the school CA files are not a valid certificate and matching key', err);
  }
}

/**
 * Creates the CA in `certsDir` and returns it. Without `force`, an existing CA is kept and returned
 * (`created: false`). Safe against two processes starting at once: the key is linked into place (which fails
 * if one exists), so exactly one CA wins and everyone loads that one.
 */
export function createCa(
  certsDir: string,
  opts: { force?: boolean; now?: Date; name?: string | null } = {},
): { ca: SchoolCa; created: boolean } {
  const paths = caPaths(certsDir);
  makePrivateDir(certsDir);
  if (!opts.force) {
    const existing = readCa(certsDir);
    if (existing) return { ca: existing, created: false };
  }
  const { certPem, keyPem } = generateCa(opts.now, { name: opts.name ?? null });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmpKey = path.join(certsDir, `.${CA_KEY_FILE}.${tag}.tmp`);
  const tmpCert = path.join(certsDir, `.${CA_CERT_FILE}.${tag}.tmp`);
  writeFileSync(tmpKey, keyPem, { mode: 0o600 });
  chmodSync(tmpKey, 0o600); // the umask cannot widen it, but be explicit
  // Owner-only too (the proxy serves it from memory at /ca.crt; `ca export` copies it out for devices).
  writeFileSync(tmpCert, certPem, { mode: 0o600 });
  chmodSync(tmpCert, 0o600);
  try {
    if (opts.force) {
      rmSync(paths.cert, { force: true });
      renameSync(tmpKey, paths.key);
    } else {
      try {
        linkSync(tmpKey, paths.key);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const theirs = readCa(certsDir);
        if (theirs) return { ca: theirs, created: false };
        throw err;
      }
    }
    renameSync(tmpCert, paths.cert);
  } finally {
    rmSync(tmpKey, { force: true });
    rmSync(tmpCert, { force: true });
  }
  return { ca: parseCa(certPem, keyPem, certsDir), created: true };
}

/** Loads the CA, creating it on first start. */
export function loadOrCreateCa(
  certsDir: string,
  name: string | null = null,
): { ca: SchoolCa; created: boolean } {
  const existing = readCa(certsDir);
  if (existing) return { ca: existing, created: false };
  return createCa(certsDir, { name });
}

/** Days until the CA expires (negative when expired). */
export function caDaysLeft(ca: SchoolCa, now = new Date()): number {
  return Math.floor((ca.notAfter.getTime() - now.getTime()) / 86_400_000);
}

function caError(certsDir: string, message: string, cause: unknown): SchoolgateError {
  const why = cause instanceof Error ? `: ${cause.message}` : '';
  return new SchoolgateError('SG_CA_UNUSABLE', `${message} (${certsDir})${why}`, {
    context: { certsDir },
    suggestion:
      "restore the CA files from backup (the key must be the certificate's, readable by the proxy), or make a new CA with `schoolgate ca renew` then `schoolgate ca renew --activate` (every device must then install the new certificate), and run `schoolgate reload`",
    cause,
  });
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
