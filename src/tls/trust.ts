/**
 * The CAs upstream servers are verified against: Node's bundled store, the system store where this Node has
 * one, NODE_EXTRA_CA_CERTS, and the PEM files the config names. Passing `ca` to a TLS client replaces the
 * default store, NODE_EXTRA_CA_CERTS included, so all of them are listed here explicitly.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { SchoolgateError } from '../errors.js';

export function upstreamTrust(extraCaFiles: readonly string[], env = process.env): string[] {
  const cas = [...tls.rootCertificates];
  const getCaCertificates = (tls as { getCACertificates?: (kind: string) => string[] }).getCACertificates;
  if (getCaCertificates) {
    try {
      cas.push(...getCaCertificates('system'));
    } catch {
      // not available on this platform
    }
  }
  const files = [...(env.NODE_EXTRA_CA_CERTS ? [env.NODE_EXTRA_CA_CERTS] : []), ...extraCaFiles];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new SchoolgateError('SG_CONFIG_INVALID', `cannot read the extra CA file ${file}`, {
        context: { file, field: 'tls.extraCaFiles' },
        suggestion: 'fix the path in tls.extraCaFiles (or NODE_EXTRA_CA_CERTS), or remove it',
        cause: err,
      });
    }
    cas.push(...(text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []));
  }
  return cas;
}
