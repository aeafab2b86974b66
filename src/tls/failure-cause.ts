/**
 * TLS failures mapped to a small closed set of causes (mockttp getCauseFromError), so that pages, logs and
 * reports say "the site's certificate has expired" instead of quoting OpenSSL.
 */
export type UpstreamTlsCause =
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
  ERR_OSSL_ASN1_WRONG_TAG: 'bad-certificate',
};

/** The cause of an upstream TLS failure, or null when the error is not a TLS one (refused, reset, timeout). */
export function upstreamTlsCause(err: { code?: string; message?: string }): UpstreamTlsCause | null {
  const code = err.code ?? '';
  if (code in BY_CODE) return BY_CODE[code]!;
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_OSSL_') || code === 'EPROTO')
    return 'handshake-failed';
  return null;
}

export const CAUSE_TEXT: Readonly<Record<UpstreamTlsCause, string>> = Object.freeze({
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
