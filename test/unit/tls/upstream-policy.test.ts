/**
 * The browser policy over an origin's chain (pure: DER in, a refusal or null out), and the one mapping of
 * every way an upstream TLS check can fail to a stable cause.
 */
import { describe, expect, it } from 'vitest';
import { upstreamTlsCause } from '../../../src/tls/failure-cause.js';
import { UpstreamCertRefused } from '../../../src/tls/upstream-identity.js';
import { certPolicyRefusal } from '../../../src/tls/upstream-policy.js';
import { caChain, issue, type CertSpec } from '../../helpers/certs.js';

const { root, last: intermediate } = caChain('policy', 1);
const leaf = (spec: CertSpec) =>
  issue({ cn: 'site.test', dns: ['site.test'], issuer: intermediate, ...spec });
const chainOf = (spec: CertSpec) => [leaf(spec).der, intermediate.der, root.der];

describe('certPolicyRefusal: the leaf must name the site in a subjectAltName', () => {
  it.each<[string, string | null, CertSpec, boolean]>([
    ['a DNS name in the SAN', null, {}, false],
    ['the name only in the CN', 'no-san', { dns: [] }, false],
    ['an empty CN and no SAN', 'no-san', { cn: '', dns: [] }, false],
    ['no subject at all and no SAN', 'no-san', { cn: null, dns: [] }, false],
    [
      'only an e-mail SAN that spells ", DNS:site.test"',
      'no-san',
      { dns: [], emails: ['a@x, DNS:site.test'] },
      false,
    ],
    ['only an IP SAN, for a name', 'no-san', { dns: [], ips: ['192.0.2.7'] }, false],
    ['an IP SAN, for an address', null, { dns: [], ips: ['192.0.2.7'] }, true],
    ['only a DNS SAN, for an address', 'no-san', {}, true],
    ['10,000 DNS SANs', null, { dns: Array.from({ length: 10_000 }, (_, i) => `n${i}.site.test`) }, false],
  ])('%s → %s', (_, cause, spec, hostIsIp) => {
    expect(certPolicyRefusal(chainOf(spec), hostIsIp)?.cause ?? null).toBe(cause);
  });
});

describe('certPolicyRefusal: keys browsers accept', () => {
  it.each<[string, string | null, CertSpec['key']]>([
    ['RSA 2048', null, { type: 'rsa', bits: 2048 }],
    ['RSA 3072', null, { type: 'rsa', bits: 3072 }],
    ['RSA 1024', 'weak-key', { type: 'rsa', bits: 1024 }],
    ['RSA 2047', 'weak-key', { type: 'rsa', bits: 2047 }],
    ['EC P-256', null, { type: 'ec', curve: 'prime256v1' }],
    ['EC P-384', null, { type: 'ec', curve: 'secp384r1' }],
    ['EC P-224', 'weak-key', { type: 'ec', curve: 'secp224r1' }],
    ['EC P-192', 'weak-key', { type: 'ec', curve: 'prime192v1' }],
    ['EC secp256k1', 'unsupported-key', { type: 'ec', curve: 'secp256k1' }],
    ['DSA', 'unsupported-key', { type: 'dsa' }],
    ['Ed25519', 'unsupported-key', { type: 'ed25519' }],
  ])('a leaf with %s → %s', (_, cause, key) => {
    expect(certPolicyRefusal(chainOf({ key }), false)?.cause ?? null).toBe(cause);
  });

  it('refuses a weak key anywhere in the chain, and says where', () => {
    const weak = caChain('weak-intermediate', 1, { key: { type: 'rsa', bits: 1024 } });
    const chain = [issue({ dns: ['site.test'], issuer: weak.last }).der, weak.last.der, weak.root.der];
    expect(certPolicyRefusal(chain, false)).toEqual({
      cause: 'weak-key',
      detail: 'RSA 1024-bit key (certificate 1 of 3)',
    });
  });
});

describe('certPolicyRefusal: signatures browsers accept', () => {
  it.each<[string, CertSpec['signature'], string | null]>([
    ['SHA-256', 'sha256', null],
    ['SHA-384', 'sha384', null],
    ['RSA-PSS with SHA-256', 'pss-sha256', null],
    ['SHA-1', 'sha1', 'SHA-1 signature (certificate 0 of 3)'],
    ['MD5', 'md5', 'MD5 signature (certificate 0 of 3)'],
    [
      'RSA-PSS with its default hash (SHA-1)',
      'pss-default',
      'RSA-PSS with SHA-1 signature (certificate 0 of 3)',
    ],
  ])('a leaf signed with %s → %s', (_, signature, detail) => {
    const refusal = certPolicyRefusal(chainOf({ signature }), false);
    expect(refusal).toEqual(detail === null ? null : { cause: 'weak-signature', detail });
  });

  it('refuses a SHA-1 intermediate, but not a SHA-1 self-signed root (nobody checks an anchor’s signature)', () => {
    const sha1Intermediate = issue({ cn: 'sha1 intermediate', ca: true, issuer: root, signature: 'sha1' });
    const viaSha1 = [
      issue({ dns: ['site.test'], issuer: sha1Intermediate }).der,
      sha1Intermediate.der,
      root.der,
    ];
    expect(certPolicyRefusal(viaSha1, false)?.detail).toBe('SHA-1 signature (certificate 1 of 3)');

    const sha1Root = issue({ cn: 'old root', ca: true, signature: 'sha1' });
    const underOldRoot = [issue({ dns: ['site.test'], issuer: sha1Root }).der, sha1Root.der];
    expect(certPolicyRefusal(underOldRoot, false)).toBeNull();
  });

  it('judges a certificate read before (kept by its DER) by where it stands in this chain', () => {
    const sha1Root = issue({ cn: 'old root again', ca: true, signature: 'sha1' });
    const site = issue({ dns: ['site.test'], issuer: sha1Root }).der;
    expect(certPolicyRefusal([site, sha1Root.der], false)).toBeNull();
    // The same root, now not the last: its SHA-1 signature counts.
    expect(certPolicyRefusal([site, sha1Root.der, root.der], false)?.detail).toBe(
      'SHA-1 signature (certificate 1 of 3)',
    );
    // The same leaf asked for as an address: its DNS-only SAN does not name it.
    expect(certPolicyRefusal([site, sha1Root.der], true)?.cause).toBe('no-san');
    expect(certPolicyRefusal([site, sha1Root.der], false)).toBeNull();
  });
});

describe('certPolicyRefusal: what cannot be read', () => {
  const good = leaf({}).der;
  it.each<[string, Buffer[]]>([
    ['no certificate', []],
    ['random bytes', [Buffer.from('not a certificate at all')]],
    ['a truncated certificate', [good.subarray(0, good.length - 40)]],
    ['trailing bytes after the certificate', [Buffer.concat([good, Buffer.from([0, 0])])]],
    ['an empty buffer', [Buffer.alloc(0)]],
  ])('%s → bad-certificate', (_, chain) => {
    expect(certPolicyRefusal(chain, false)?.cause).toBe('bad-certificate');
  });
});

describe('upstreamTlsCause: one cause per fault, whichever check saw it', () => {
  const asn1 = 'error:0680007B:asn1 encoding routines:ASN1_get_object:header too long';
  it.each<[string, string | null, { code?: string; message?: string }]>([
    ['the policy', 'no-san', new UpstreamCertRefused({ cause: 'no-san', detail: 'x' }, 'site.test')],
    [
      'OpenSSL, SHA-1 in the chain',
      'weak-signature',
      { code: 'UNSPECIFIED', message: 'CA signature digest algorithm too weak' },
    ],
    ['OpenSSL, a tiny leaf key', 'weak-key', { code: 'UNSPECIFIED', message: 'EE certificate key too weak' }],
    ['OpenSSL, a huge Certificate message', 'too-large', { code: 'ERR_SSL_EXCESSIVE_MESSAGE_SIZE' }],
    [
      'OpenSSL, DER that does not parse',
      'bad-certificate',
      { code: 'ERR_SSL_HEADER_TOO_LONG', message: asn1 },
    ],
    ['Node, the name check', 'wrong-host', { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }],
    ['OpenSSL, a chain too long', 'bad-certificate', { code: 'CERT_CHAIN_TOO_LONG' }],
    ['a handshake alert', 'handshake-failed', { code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' }],
    ['a refused connection', null, { code: 'ECONNREFUSED' }],
    ['a reset (whatever its text)', null, { code: 'ECONNRESET', message: asn1 }],
  ])('%s → %s', (_, cause, err) => {
    expect(upstreamTlsCause(err)).toBe(cause);
  });
});
