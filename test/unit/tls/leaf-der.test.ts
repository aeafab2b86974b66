/**
 * The leaf TBSCertificate written straight to DER is byte for byte the one node-forge built for the same
 * fields (the reference below is leaf.ts's former forge code), so minted leaves are unchanged.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { loadOrCreateCa, type SchoolCa } from '../../../src/tls/ca.js';
import { leafTbs, leafTemplate, type LeafFields } from '../../../src/tls/leaf-der.js';
import { tempDir } from '../../helpers/schoolgate.js';

const spki = createPublicKey(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey).export({
  type: 'spki',
  format: 'der',
});

/** What leaf.ts built with forge before (its sign(), the TBS part). */
function forgeTbs(ca: SchoolCa, f: LeafFields, withKeyId: boolean): Buffer {
  const cert = forge.pki.createCertificate();
  cert.publicKey = ca.cert.publicKey;
  cert.serialNumber = f.serialHex;
  cert.validity.notBefore = f.notBefore;
  cert.validity.notAfter = f.notAfter;
  cert.setSubject([
    { name: 'commonName', value: f.host.slice(0, 64) },
    { name: 'organizationName', value: 'schoolgate web filter' },
  ]);
  cert.setIssuer(ca.cert.subject.attributes);
  const altName = net.isIP(f.host) ? { type: 7, ip: f.host } : { type: 2, value: f.host };
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [altName] },
  ];
  const ski = ca.cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | null;
  if (withKeyId && ski?.subjectKeyIdentifier)
    extensions.push({
      name: 'authorityKeyIdentifier',
      keyIdentifier: forge.util.hexToBytes(ski.subjectKeyIdentifier),
    });
  cert.setExtensions(extensions);
  cert.signatureOid = forge.pki.oids.sha256WithRSAEncryption!;
  cert.siginfo.algorithmOid = cert.signatureOid;
  const pki = forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 };
  const tbs = pki.getTBSCertificate(cert);
  (tbs.value as forge.asn1.Asn1[])[6] = forge.asn1.fromDer(spki.toString('binary'));
  return Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
}

describe('leafTbs', () => {
  const ca = loadOrCreateCa(path.join(tempDir(), 'certs')).ca;
  const template = leafTemplate(ca.cert, spki);
  const at = (iso: string) => new Date(iso);

  it.each<[string, LeafFields]>([
    [
      'a name',
      {
        host: 'www.example.org',
        serialHex: '1a2b3c4d5e6f708192a3b4c5d6e7f801',
        notBefore: at('2026-12-03T09:15:07.123Z'),
        notAfter: at('2026-12-10T10:15:07Z'),
      },
    ],
    [
      'an IPv4 literal',
      {
        host: '192.0.2.7',
        serialHex: '7f00000000000000000000000000ff01',
        notBefore: at('2026-01-01T00:00:00Z'),
        notAfter: at('2026-01-08T00:00:00Z'),
      },
    ],
    [
      'an IPv6 literal',
      {
        host: '2001:db8::1',
        serialHex: '01',
        notBefore: at('2030-06-30T23:59:59Z'),
        notAfter: at('2030-07-07T23:59:59Z'),
      },
    ],
    [
      'a name longer than a CN may be',
      {
        host: `${'a'.repeat(70)}.example.org`,
        serialHex: '55',
        notBefore: at('2049-12-31T23:00:00Z'),
        notAfter: at('2050-01-07T23:00:00Z'),
      },
    ],
    [
      'a long name (multi-byte lengths)',
      {
        host: `${'label.'.repeat(40)}example`,
        serialHex: '0102030405',
        notBefore: at('2026-12-03T00:00:00Z'),
        notAfter: at('2027-01-03T00:00:00Z'),
      },
    ],
  ])('%s: the same DER as forge built', (_, fields) => {
    expect(leafTbs(template, fields).toString('hex')).toBe(forgeTbs(ca, fields, true).toString('hex'));
  });

  it('without an authority key identifier when the CA has none', () => {
    const fields = {
      host: 'a.test',
      serialHex: '11',
      notBefore: at('2026-12-03T00:00:00Z'),
      notAfter: at('2026-12-04T00:00:00Z'),
    };
    const bare = { ...template, authorityKeyId: Buffer.alloc(0) };
    expect(leafTbs(bare, fields).toString('hex')).toBe(forgeTbs(ca, fields, false).toString('hex'));
    expect(leafTbs(bare, fields).equals(leafTbs(template, fields))).toBe(false);
  });
});
