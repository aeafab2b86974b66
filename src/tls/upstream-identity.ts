/**
 * The upstream agent's checkServerIdentity: the browser policy (upstream-policy.ts) first, then Node's own
 * name check, which never reaches its CN fallback because the policy has already required a subjectAltName
 * of the right kind. Node calls this after OpenSSL verified the chain, and destroys the socket with the
 * error returned, which reaches the request's 'error' handler.
 */
import { isIP } from 'node:net';
import tls from 'node:tls';
import { SchoolgateError } from '../errors.js';
import { certPolicyRefusal, type CertPolicyRefusal } from './upstream-policy.js';

/** Deeper than OpenSSL's default verify depth (100): a chain is never walked further than this. */
const MAX_CHAIN = 101;

export class UpstreamCertRefused extends SchoolgateError {
  constructor(
    readonly refusal: CertPolicyRefusal,
    host: string,
  ) {
    super('SG_UPSTREAM_CERT_REFUSED', `the certificate of ${host} was refused: ${refusal.detail}`, {
      context: { host, cause: refusal.cause },
    });
  }
}

export function isUpstreamCertRefused(err: unknown): err is UpstreamCertRefused {
  return err instanceof UpstreamCertRefused;
}

export function checkUpstreamIdentity(hostname: string, cert: tls.PeerCertificate): Error | undefined {
  const refusal = certPolicyRefusal(chainOf(cert), isIP(hostname.replace(/^\[|\]$/g, '')) !== 0);
  if (refusal) return new UpstreamCertRefused(refusal, hostname);
  return tls.checkServerIdentity(hostname, cert);
}

/** Leaf first, then each issuer Node attached; a self-signed root links to itself. */
function chainOf(cert: tls.PeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  const seen = new Set<string>();
  let next: tls.PeerCertificate | undefined = cert;
  while (next && !seen.has(next.fingerprint256) && chain.length < MAX_CHAIN) {
    seen.add(next.fingerprint256);
    if (next.raw) chain.push(next.raw);
    next = (next as tls.DetailedPeerCertificate).issuerCertificate;
  }
  return chain;
}
