/**
 * Certificates built inside the tests, good and bad: any key (RSA of any size, EC on any curve, DSA,
 * Ed25519), any signature hash (SHA-1 and MD5 included), names only in the CN, many SANs, long chains.
 * forge builds the TBSCertificate (it can only encode RSA keys, so another key's SubjectPublicKeyInfo is put
 * in its place, as src/tls/ca.ts does for leaves) and Node's crypto signs it.
 */
import { constants, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

export type KeySpec =
  { type: 'rsa'; bits: number } | { type: 'ec'; curve: string } | { type: 'dsa' } | { type: 'ed25519' };

export type SignatureSpec = 'sha256' | 'sha384' | 'sha1' | 'md5' | 'pss-sha256' | 'pss-default';

export interface Issued {
  cert: forge.pki.Certificate;
  certPem: string;
  der: Buffer;
  keyPem: string;
  key: KeyObject;
  /** RSA keys only: what signs certificates issued by this one. */
  subject: forge.pki.CertificateField[];
}

export interface CertSpec {
  /** Subject CN; null for none at all. */
  cn?: string | null;
  dns?: string[];
  ips?: string[];
  emails?: string[];
  key?: KeySpec;
  signature?: SignatureSpec;
  /** Signed by this certificate's key; self-signed when absent. */
  issuer?: Issued;
  ca?: boolean;
  expired?: boolean;
}

const keys = new Map<string, { privateKey: KeyObject; publicKey: KeyObject }>();

/** Key pairs are reused per spec: generating RSA keys is the slow part of a test. */
function keyPair(spec: KeySpec): { privateKey: KeyObject; publicKey: KeyObject } {
  const id = JSON.stringify(spec);
  let pair = keys.get(id);
  if (!pair) {
    if (spec.type === 'rsa') pair = generateKeyPairSync('rsa', { modulusLength: spec.bits });
    else if (spec.type === 'ec') pair = generateKeyPairSync('ec', { namedCurve: spec.curve });
    else if (spec.type === 'dsa')
      pair = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
    else pair = generateKeyPairSync('ed25519');
    keys.set(id, pair);
  }
  return pair;
}

const SIGNATURE_OIDS: Record<SignatureSpec, string> = {
  sha256: forge.pki.oids.sha256WithRSAEncryption!,
  sha384: forge.pki.oids.sha384WithRSAEncryption!,
  sha1: forge.pki.oids.sha1WithRSAEncryption!,
  md5: forge.pki.oids.md5WithRSAEncryption!,
  'pss-sha256': forge.pki.oids['RSASSA-PSS']!,
  'pss-default': forge.pki.oids['RSASSA-PSS']!,
};

export function issue(spec: CertSpec = {}): Issued {
  const keySpec = spec.key ?? { type: 'rsa', bits: 2048 };
  const pair = keyPair(keySpec);
  const cert = forge.pki.createCertificate();
  // A placeholder forge can encode; the real SubjectPublicKeyInfo replaces it in the TBS below.
  const placeholder = forge.pki.publicKeyFromPem(
    keyPair({ type: 'rsa', bits: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string,
  );
  cert.publicKey = placeholder;
  const serial = randomBytes(12);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  cert.serialNumber = serial.toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - (spec.expired ? 10 : 1) * 86_400_000);
  cert.validity.notAfter = new Date(now + (spec.expired ? -2 : 30) * 86_400_000);
  const subject = spec.cn === null ? [] : [{ name: 'commonName', value: spec.cn ?? 'test' }];
  cert.setSubject(subject);
  cert.setIssuer(spec.issuer ? spec.issuer.subject : subject);
  const altNames = [
    ...(spec.dns ?? []).map((value) => ({ type: 2, value })),
    ...(spec.ips ?? []).map((ip) => ({ type: 7, ip })),
    ...(spec.emails ?? []).map((value) => ({ type: 1, value })),
  ];
  cert.setExtensions([
    spec.ca
      ? { name: 'basicConstraints', cA: true, critical: true }
      : { name: 'basicConstraints', cA: false },
    spec.ca
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }
      : { name: 'extKeyUsage', serverAuth: true },
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
  ]);
  const signature = spec.signature ?? 'sha256';
  const oid = SIGNATURE_OIDS[signature];
  const pss = signature.startsWith('pss-');
  const sha256 = forge.pki.oids.sha256!;
  const params = pss
    ? signature === 'pss-sha256'
      ? {
          hash: { algorithmOid: sha256 },
          mgf: { algorithmOid: forge.pki.oids.mgf1, hash: { algorithmOid: sha256 } },
          saltLength: 32,
        }
      : { hash: {}, mgf: {} }
    : {};
  cert.signatureOid = oid;
  cert.siginfo.algorithmOid = oid;
  (cert.siginfo as { parameters?: unknown }).parameters = params;
  (cert as { signatureParameters?: unknown }).signatureParameters = params;
  const pki = forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 };
  const tbs = pki.getTBSCertificate(cert);
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  (tbs.value as forge.asn1.Asn1[])[6] = forge.asn1.fromDer(spki.toString('binary'));
  (cert as { tbsCertificate?: forge.asn1.Asn1 }).tbsCertificate = tbs;
  const tbsDer = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  const signer = spec.issuer?.key ?? pair.privateKey;
  const hash = signature === 'pss-sha256' ? 'sha256' : signature === 'pss-default' ? 'sha1' : signature;
  cert.signature = sign(
    hash,
    tbsDer,
    pss
      ? { key: signer, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hash === 'sha1' ? 20 : 32 }
      : signer,
  ).toString('binary');
  // certificateToAsn1 would rebuild the TBS from the placeholder key: assemble the certificate by hand.
  const asn1 = forge.asn1;
  const whole = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    (tbs.value as forge.asn1.Asn1[])[2]!, // the signature AlgorithmIdentifier, the same inside and out
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(0) + cert.signature),
  ]);
  const der = Buffer.from(asn1.toDer(whole).getBytes(), 'binary');
  return {
    cert,
    der,
    certPem: pemOf(der),
    keyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    key: pair.privateKey,
    subject: cert.subject.attributes,
  };
}

export function pemOf(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

/** A root CA and `depth` intermediates under it, the deepest last; certificates issued from `.last`. */
export function caChain(name: string, depth = 0, intermediates: Omit<CertSpec, 'issuer' | 'ca' | 'cn'> = {}) {
  const root = issue({ cn: `${name} root`, ca: true });
  const chain: Issued[] = [];
  let last = root;
  for (let i = 0; i < depth; i++) {
    last = issue({ ...intermediates, cn: `${name} intermediate ${i + 1}`, ca: true, issuer: last });
    chain.push(last);
  }
  /** The intermediates as a server sends them: nearest the leaf first. */
  const served = [...chain].reverse();
  return { root, last, served };
}
