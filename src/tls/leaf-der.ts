/**
 * A leaf certificate's TBSCertificate written straight to DER, for the one shape leaf.ts mints (byte for byte
 * what node-forge built before, checked by test/unit/tls/leaf-der.test.ts): forge assembled and encoded an
 * object tree in JS for every new host, a third of a new host's signing time. What never changes for a CA
 * (issuer name, authority key identifier, the leaf key's SubjectPublicKeyInfo) is encoded once.
 */
import net from 'node:net';
import forge from 'node-forge';

/** The parts of every leaf signed by one CA with one leaf key, encoded once. */
export interface LeafTemplate {
  issuer: Buffer;
  subjectPublicKeyInfo: Buffer;
  /** The authorityKeyIdentifier extension, or empty when the CA has no subjectKeyIdentifier. */
  authorityKeyId: Buffer;
}

export interface LeafFields {
  host: string;
  /** Hex, positive (randomSerial). */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OID_SHA256_RSA = oid('1.2.840.113549.1.1.11');
const OID_CN = oid('2.5.4.3');
const OID_O = oid('2.5.4.10');
const OID_BASIC_CONSTRAINTS = oid('2.5.29.19');
const OID_KEY_USAGE = oid('2.5.29.15');
const OID_EXT_KEY_USAGE = oid('2.5.29.37');
const OID_SUBJECT_ALT_NAME = oid('2.5.29.17');
const OID_AUTHORITY_KEY_ID = oid('2.5.29.35');
const OID_SERVER_AUTH = oid('1.3.6.1.5.5.7.3.1');
const ORGANIZATION = 'schoolgate web filter';

/** AlgorithmIdentifier sha256WithRSAEncryption (NULL parameters): the TBS's and the certificate's. */
export const SHA256_WITH_RSA = tlv(SEQUENCE, OID_SHA256_RSA, Buffer.from([0x05, 0x00]));

/** Version 3, basicConstraints (critical, not a CA), keyUsage (critical, digitalSignature), serverAuth. */
const VERSION = tlv(0xa0, tlv(0x02, Buffer.from([0x02])));
const FIXED_EXTENSIONS = Buffer.concat([
  extension(OID_BASIC_CONSTRAINTS, true, tlv(SEQUENCE)),
  extension(OID_KEY_USAGE, true, tlv(0x03, Buffer.from([0x07, 0x80]))),
  extension(OID_EXT_KEY_USAGE, false, tlv(SEQUENCE, OID_SERVER_AUTH)),
]);

/** The template for `ca` (its forge certificate) and the leaf key's SubjectPublicKeyInfo (DER). */
export function leafTemplate(ca: forge.pki.Certificate, subjectPublicKeyInfo: Buffer): LeafTemplate {
  const issuer = forge.asn1.toDer(forge.pki.distinguishedNameToAsn1(ca.subject)).getBytes();
  const ski = ca.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | null;
  const keyId = ski?.subjectKeyIdentifier ? Buffer.from(ski.subjectKeyIdentifier, 'hex') : null;
  return {
    issuer: Buffer.from(issuer, 'binary'),
    subjectPublicKeyInfo,
    authorityKeyId: keyId
      ? extension(OID_AUTHORITY_KEY_ID, false, tlv(SEQUENCE, tlv(0x80, keyId)))
      : Buffer.alloc(0),
  };
}

/** The TBSCertificate of a leaf for `fields.host` under `template`. */
export function leafTbs(template: LeafTemplate, fields: LeafFields): Buffer {
  const { host } = fields;
  // The CN is informational (browsers read the SAN) and limited to 64 characters.
  const subject = tlv(SEQUENCE, rdn(OID_CN, host.slice(0, 64)), rdn(OID_O, ORGANIZATION));
  const altName = net.isIP(host) ? tlv(0x87, ipBytes(host)) : tlv(0x82, Buffer.from(host, 'latin1'));
  const extensions = tlv(
    0xa3,
    tlv(
      SEQUENCE,
      FIXED_EXTENSIONS,
      extension(OID_SUBJECT_ALT_NAME, false, tlv(SEQUENCE, altName)),
      template.authorityKeyId,
    ),
  );
  return tlv(
    SEQUENCE,
    VERSION,
    tlv(0x02, Buffer.from(fields.serialHex, 'hex')),
    SHA256_WITH_RSA,
    template.issuer,
    tlv(SEQUENCE, time(fields.notBefore), time(fields.notAfter)),
    subject,
    template.subjectPublicKeyInfo,
    extensions,
  );
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }. */
export function certificateDer(tbs: Buffer, signature: Buffer): Buffer {
  return tlv(SEQUENCE, tbs, SHA256_WITH_RSA, tlv(0x03, Buffer.from([0x00]), signature));
}

/** PEM as forge wrote it (64-character lines, CRLF), so files on disk look as before. */
export function certificatePem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\r\n${lines.join('\r\n')}\r\n-----END CERTIFICATE-----\r\n`;
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function oid(dotted: string): Buffer {
  return tlv(0x06, Buffer.from(forge.asn1.oidToDer(dotted).getBytes(), 'binary'));
}

/** One attribute in its own RDN, as a PrintableString (forge's default for these names). */
function rdn(type: Buffer, value: string): Buffer {
  return tlv(SET, tlv(SEQUENCE, type, tlv(0x13, Buffer.from(value, 'utf8'))));
}

function extension(id: Buffer, critical: boolean, value: Buffer): Buffer {
  const flag = critical ? [tlv(0x01, Buffer.from([0xff]))] : [];
  return tlv(SEQUENCE, id, ...flag, tlv(0x04, value));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5), seconds precision, UTC. */
function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'latin1'))
    : tlv(0x18, Buffer.from(`${digits}Z`, 'latin1'));
}

function ipBytes(ip: string): Buffer {
  // forge.util.bytesFromIP exists but is missing from @types/node-forge.
  const util = forge.util as unknown as { bytesFromIP(ip: string): string | null };
  return Buffer.from(util.bytesFromIP(ip) ?? '', 'binary');
}
