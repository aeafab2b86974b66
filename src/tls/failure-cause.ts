/**
 * TLS failures mapped to a small closed set of causes (mockttp getCauseFromError), so that pages, logs and
 * reports say "the site's certificate has expired" instead of quoting OpenSSL. The same cause is given
 * whether OpenSSL refused (its default security level already refuses SHA-1) or the browser policy did
 * (upstream-policy.ts): one reason per fault, whichever check saw it first.
 */
import { isUpstreamCertRefused } from './upstream-identity.js';

export type UpstreamTlsCause =
  | 'no-san'
  | 'weak-key'
  | 'unsupported-key'
  | 'weak-signature'
  | 'too-large'
  | 'self-signed'
  | 'untrusted-issuer'
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-host'
  | 'revoked'
  | 'bad-certificate'
  | 'handshake-failed';

const BY_CODE: Readonly<Record<string, UpstreamTlsCause>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'untrusted-issuer',
  UNABLE_TO_GET_ISSUER_CERT: 'untrusted-issuer',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'untrusted-issuer',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'untrusted-issuer',
  CERT_UNTRUSTED: 'untrusted-issuer',
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'not-yet-valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'wrong-host',
  HOSTNAME_MISMATCH: 'wrong-host',
  CERT_REVOKED: 'revoked',
  CERT_SIGNATURE_FAILURE: 'bad-certificate',
  CERT_REJECTED: 'bad-certificate',
  INVALID_CA: 'bad-certificate',
  INVALID_PURPOSE: 'bad-certificate',
  PATH_LENGTH_EXCEEDED: 'bad-certificate',
  CERT_CHAIN_TOO_LONG: 'bad-certificate',
  ERR_OSSL_ASN1_WRONG_TAG: 'bad-certificate',
  // OpenSSL's cap on the Certificate message (100 KiB): a huge chain, or thousands of long SANs.
  ERR_SSL_EXCESSIVE_MESSAGE_SIZE: 'too-large',
};

/**
 * Known by OpenSSL's text: verify errors Node reports as UNSPECIFIED, and handshake errors that reach an
 * https request as EPROTO (DER that does not parse, a Certificate message over the cap).
 */
const BY_MESSAGE: readonly (readonly [RegExp, UpstreamTlsCause])[] = [
  [/signature digest algorithm too weak/i, 'weak-signature'],
  [/certificate key too weak/i, 'weak-key'],
  [/asn1 encoding routines/i, 'bad-certificate'],
  [/excessive message size/i, 'too-large'],
];
const TLS_CODE = /^(UNSPECIFIED|EPROTO|ERR_SSL_.*|ERR_OSSL_.*)$/;

/** The cause of an upstream TLS failure, or null when the error is not a TLS one (refused, reset, timeout). */
export function upstreamTlsCause(err: { code?: string; message?: string }): UpstreamTlsCause | null {
  if (isUpstreamCertRefused(err)) return err.refusal.cause;
  const code = err.code ?? '';
  if (code in BY_CODE) return BY_CODE[code]!;
  if (!TLS_CODE.test(code)) return null;
  const byMessage = BY_MESSAGE.find(([pattern]) => pattern.test(err.message ?? ''));
  return byMessage ? byMessage[1] : code === 'UNSPECIFIED' ? 'bad-certificate' : 'handshake-failed';
}

/** What the row's note says about an upstream TLS refusal: the policy's detail, or OpenSSL's words. */
export function upstreamTlsDetail(err: { code?: string; message?: string }): string {
  if (isUpstreamCertRefused(err)) return err.refusal.detail;
  return `${err.code ?? ''} ${err.message ?? ''}`.trim().slice(0, 300);
}

export const CAUSE_TEXT: Readonly<Record<UpstreamTlsCause, string>> = Object.freeze({
  'no-san':
    'The site’s certificate names the site only in its common name, with no subjectAltName; browsers refuse it.',
  'weak-key': 'The site’s certificate uses a key too short to be safe (RSA under 2048 or EC under 256 bits).',
  'unsupported-key': 'The site’s certificate uses a kind of key browsers do not accept.',
  'weak-signature':
    'The site’s certificate is signed with a broken algorithm (SHA-1 or MD5); browsers refuse it.',
  'too-large': 'The site sent a certificate chain too large to accept.',
  'self-signed': 'The site presented a self-signed certificate, which nobody vouches for.',
  'untrusted-issuer': 'The site’s certificate was issued by an authority the filter does not trust.',
  expired: 'The site’s certificate has expired.',
  'not-yet-valid': 'The site’s certificate is not valid yet (or the clock is wrong).',
  'wrong-host': 'The site’s certificate is for a different name than the address asked for.',
  revoked: 'The site’s certificate has been revoked.',
  'bad-certificate': 'The site’s certificate is malformed or not valid for a web server.',
  'handshake-failed': 'A secure connection to the site could not be set up.',
});

/** Why a client's handshake with us failed: most often the device does not trust the school CA. */
export type ClientTlsCause = 'client-untrusted-ca' | 'client-handshake-failed' | 'client-timeout';

export function clientTlsCause(err: { code?: string; message?: string }): ClientTlsCause {
  const text = `${err.code ?? ''} ${err.message ?? ''}`.toLowerCase();
  if (/unknown ca|certificate unknown|bad certificate|alert number 4[268]/.test(text))
    return 'client-untrusted-ca';
  return 'client-handshake-failed';
}
