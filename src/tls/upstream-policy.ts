/**
 * What browsers refuse in an origin's certificate and OpenSSL's chain check does not: Node's
 * tls.checkServerIdentity falls back to the subject CN when a certificate has no DNS subjectAltName (browsers
 * stopped in 2017), and OpenSSL's default security level accepts RSA-1024. An inspected request re-signs
 * the origin under the school CA, so the proxy must refuse whatever a browser would have refused itself.
 *
 * A pure function over the chain's DER and the name asked for, read with one ASN.1 parser (never from
 * Node's printed `subjectaltname`, whose quoting an `email:"x, DNS:y"` entry could confuse).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import forge from 'node-forge';

export type CertPolicyCause =
  'no-san' | 'weak-key' | 'unsupported-key' | 'weak-signature' | 'bad-certificate';

export interface CertPolicyRefusal {
  cause: CertPolicyCause;
  /** For the log and the row's note, e.g. "RSA 1024-bit key (certificate 0 of 2)". */
  detail: string;
}

/** Signature algorithms browsers accept on certificates (Chrome's set: SHA-2 with RSA, RSA-PSS or ECDSA). */
const STRONG_SIGNATURES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.11': 'sha256WithRSA',
  '1.2.840.113549.1.1.12': 'sha384WithRSA',
  '1.2.840.113549.1.1.13': 'sha512WithRSA',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
};
const RSA_PSS = '1.2.840.113549.1.1.10';
const STRONG_PSS_HASHES: Readonly<Record<string, string>> = {
  '2.16.840.1.101.3.4.2.1': 'SHA-256',
  '2.16.840.1.101.3.4.2.2': 'SHA-384',
  '2.16.840.1.101.3.4.2.3': 'SHA-512',
};
/** Named so the detail says "SHA-1", not an OID; anything else outside the strong set is refused too. */
const WEAK_SIGNATURES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.2': 'MD2',
  '1.2.840.113549.1.1.3': 'MD4',
  '1.2.840.113549.1.1.4': 'MD5',
  '1.2.840.113549.1.1.5': 'SHA-1',
  '1.3.14.3.2.29': 'SHA-1',
  '1.2.840.10045.4.1': 'SHA-1',
  '1.2.840.10040.4.3': 'SHA-1',
  '1.2.840.113549.1.1.14': 'SHA-224',
  '1.2.840.10045.4.3.1': 'SHA-224',
};
const SUBJECT_ALT_NAME = '2.5.29.17';
const DNS_NAME = 2;
const IP_ADDRESS = 7;
const MIN_RSA_BITS = 2048;
const MIN_EC_BITS = 256;
/** Curves browsers verify (Firefox has P-521; Chrome only P-256 and P-384). */
const SUPPORTED_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

/**
 * Why a browser would refuse this chain, or null. `chain` is the leaf first, then its issuers as Node saw
 * them (getPeerCertificate(true)); `hostIsIp` says which kind of subjectAltName the leaf must carry.
 */
export function certPolicyRefusal(chain: readonly Buffer[], hostIsIp: boolean): CertPolicyRefusal | null {
  if (chain.length === 0) return { cause: 'bad-certificate', detail: 'the site presented no certificate' };
  const parsed: Parsed[] = [];
  for (const [i, der] of chain.entries()) {
    const cert = readCached(der);
    if (!cert) return { cause: 'bad-certificate', detail: `certificate ${i} could not be read` };
    parsed.push(cert);
  }
  const names = parsed[0]!.altNameTags;
  if (!names.includes(hostIsIp ? IP_ADDRESS : DNS_NAME))
    return {
      cause: 'no-san',
      detail: `the certificate has no ${hostIsIp ? 'IP address' : 'DNS name'} in a subjectAltName (a name only in the CN is not accepted)`,
    };
  for (const [i, cert] of parsed.entries()) {
    const where = `certificate ${i} of ${parsed.length}`;
    const key = cert.keyProblem;
    if (key) return { ...key, detail: `${key.detail} (${where})` };
    // The trust anchor's own signature is never checked by anyone (its trust comes from the store).
    const anchor = i === parsed.length - 1 && cert.selfIssued;
    const weak = anchor ? null : signatureProblem(cert.signature);
    if (weak) return { cause: 'weak-signature', detail: `${weak} signature (${where})` };
  }
  return null;
}

/** What the policy needs of one certificate: a function of its DER alone, so it can be kept. */
interface Parsed {
  keyProblem: CertPolicyRefusal | null;
  selfIssued: boolean;
  signature: { oid: string; pssHash: string | null };
  altNameTags: number[];
}

/**
 * Most chains end in a few intermediates and roots shared by many sites, and a site's own certificate comes
 * back on each new connection: each certificate is read once (two parsers) and its summary kept, by the
 * SHA-256 of its DER, in a bounded cache.
 */
const readCertificates = new LRUCache<string, Parsed>({ max: 4_096 });

function readCached(der: Buffer): Parsed | null {
  const id = createHash('sha256').update(der).digest('base64');
  const known = readCertificates.get(id);
  if (known) return known;
  const cert = parse(der);
  if (cert) readCertificates.set(id, cert);
  return cert;
}

function parse(der: Buffer): Parsed | null {
  try {
    const x509 = new X509Certificate(der);
    const root = fromDer(der.toString('binary'));
    const [tbs, algorithm] = root.value as forge.asn1.Asn1[];
    return {
      keyProblem: keyProblem(x509),
      selfIssued: x509.checkIssued(x509),
      signature: readAlgorithm(algorithm!),
      altNameTags: readAltNameTags(tbs!),
    };
  } catch {
    return null;
  }
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY }; RSA-PSS names its hash in [0]. */
function readAlgorithm(node: forge.asn1.Asn1): Parsed['signature'] {
  const [oidNode, params] = node.value as forge.asn1.Asn1[];
  const oid = forge.asn1.derToOid(oidNode!.value as string);
  let pssHash: string | null = null;
  if (oid === RSA_PSS && params && Array.isArray(params.value)) {
    const hashField = params.value.find(
      (f) => f.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && f.type === 0,
    );
    const hashAlgorithm = (hashField?.value as forge.asn1.Asn1[] | undefined)?.[0];
    if (hashAlgorithm) pssHash = readAlgorithm(hashAlgorithm).oid;
  }
  return { oid, pssHash };
}

/** The GeneralName tags of the subjectAltName extension (tbsCertificate's [3] extensions), [] when absent. */
function readAltNameTags(tbs: forge.asn1.Asn1): number[] {
  const fields = tbs.value as forge.asn1.Asn1[];
  const wrapper = fields.find((f) => f.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && f.type === 3);
  const extensions = (wrapper?.value as forge.asn1.Asn1[] | undefined)?.[0]?.value as forge.asn1.Asn1[];
  for (const ext of extensions ?? []) {
    const parts = ext.value as forge.asn1.Asn1[];
    if (forge.asn1.derToOid(parts[0]!.value as string) !== SUBJECT_ALT_NAME) continue;
    const value = parts[parts.length - 1]!.value as string; // extnValue OCTET STRING (after an optional critical)
    const names = fromDer(value);
    return (names.value as forge.asn1.Asn1[])
      .filter((n) => n.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC)
      .map((n) => n.type);
  }
  return [];
}

/** Strict DER; signatures and keys are BIT STRINGs never to be decoded as nested ASN.1. */
function fromDer(bytes: string): forge.asn1.Asn1 {
  const options = { strict: true, decodeBitStrings: false, parseAllBytes: true };
  // @types/node-forge knows only the older boolean `strict` argument.
  const parse = forge.asn1.fromDer as unknown as (b: string, o: typeof options) => forge.asn1.Asn1;
  return parse(bytes, options);
}

function keyProblem(x509: X509Certificate): CertPolicyRefusal | null {
  let type: string | undefined;
  let details: { modulusLength?: number; namedCurve?: string } | undefined;
  try {
    type = x509.publicKey.asymmetricKeyType;
    details = x509.publicKey.asymmetricKeyDetails;
  } catch {
    return { cause: 'unsupported-key', detail: 'a key of a kind that cannot be read' };
  }
  if (type === 'rsa' || type === 'rsa-pss') {
    const bits = details?.modulusLength ?? 0;
    return bits < MIN_RSA_BITS ? { cause: 'weak-key', detail: `RSA ${bits}-bit key` } : null;
  }
  if (type === 'ec') {
    const curve = details?.namedCurve ?? 'explicit parameters';
    if (SUPPORTED_CURVES.has(curve)) return null;
    // Curve names carry their size: prime192v1, secp224r1, brainpoolP224r1, sect163k1.
    const bits = Number(/\d{3}/.exec(curve)?.[0] ?? 0);
    return bits > 0 && bits < MIN_EC_BITS
      ? { cause: 'weak-key', detail: `EC ${bits}-bit key (${curve})` }
      : { cause: 'unsupported-key', detail: `EC key on ${curve}` };
  }
  return { cause: 'unsupported-key', detail: `${(type ?? 'unknown').toUpperCase()} key` };
}

/** The weak hash a signature uses ("SHA-1"), or null when browsers accept it. */
function signatureProblem(signature: Parsed['signature']): string | null {
  if (signature.oid in STRONG_SIGNATURES) return null;
  if (signature.oid === RSA_PSS) {
    // RSASSA-PSS-params: an absent hashAlgorithm means SHA-1 (RFC 4055).
    const hash = signature.pssHash ?? '1.3.14.3.2.26';
    return hash in STRONG_PSS_HASHES ? null : `RSA-PSS with ${hash === '1.3.14.3.2.26' ? 'SHA-1' : hash}`;
  }
  return WEAK_SIGNATURES[signature.oid] ?? `unsupported (${signature.oid})`;
}
