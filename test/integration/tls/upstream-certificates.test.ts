/**
 * Origins whose certificates a browser would refuse, behind an inspected tunnel (red team, issue 11 item 5;
 * hostile-inputs C09): a name only in the CN, an RSA-1024 key, SHA-1 and MD5 signatures on the leaf or an
 * intermediate, an empty CN, 10,000 SANs, a chain too large to accept, and bytes that are not DER. Each
 * gets our 502 page naming the reason, a committed row that says why before the page is shown, and the
 * proxy serves the next request. All origins chain to a throwaway "public" CA the proxy trusts through
 * tls.extraCaFiles, so nothing but the policy under test stands between them and a 200.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { caChain, issue, type CertSpec, type Issued } from '../../helpers/certs.js';
import { startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';
import {
  ORIGIN_BODY,
  startBadDerOrigin,
  startCertOrigin,
  type CertOrigin,
  type Served,
} from './cert-origins.js';
import { auditRows, get, httpsThroughProxy } from './fixtures.js';

interface Row {
  id: string;
  host: string;
  path: string | null;
  action: string;
  reason: string;
  status: number | null;
  kind: string;
  profile: string | null;
  note: string | null;
}

const publicCa = caChain('upstream-policy public', 1);
const intermediate = publicCa.last;

function served(host: string, spec: CertSpec = {}, via: Issued[] = [intermediate]): Served {
  const leaf = issue({ cn: host, dns: [host], issuer: via[0], ...spec });
  return { leaf, chain: via };
}

/** A chain of `depth` intermediates under the public root, for the "huge chain" case. */
function longChain(depth: number): Issued[] {
  const chain: Issued[] = [];
  let issuer = publicCa.root;
  for (let i = 0; i < depth; i++) {
    issuer = issue({ cn: `long chain ${i + 1}`, ca: true, issuer });
    chain.unshift(issuer);
  }
  return chain;
}

const sha1Intermediate = issue({
  cn: 'sha1 intermediate',
  ca: true,
  issuer: publicCa.root,
  signature: 'sha1',
});
const CASES: Record<string, Served> = {
  'good.test': served('good.test'),
  'cn-only.test': served('cn-only.test', { dns: [] }),
  'empty-cn.test': served('empty-cn.test', { cn: '', dns: [] }),
  'rsa1024.test': served('rsa1024.test', { key: { type: 'rsa', bits: 1024 } }),
  'sha1.test': served('sha1.test', { signature: 'sha1' }),
  'md5.test': served('md5.test', { signature: 'md5' }),
  'sha1-intermediate.test': served('sha1-intermediate.test', {}, [sha1Intermediate]),
  // 10,000 short names (≈ 80 KB, under OpenSSL's 100 KiB cap), none of them the host asked for.
  'many-sans.test': served('many-sans.test', { dns: Array.from({ length: 10_000 }, (_, i) => `${i}.x`) }),
  // 10,000 longer names: a certificate of ≈ 140 KB.
  'huge-sans.test': served('huge-sans.test', {
    dns: ['huge-sans.test', ...Array.from({ length: 10_000 }, (_, i) => `name-${i}.huge-sans.test`)],
  }),
  'huge-chain.test': served('huge-chain.test', {}, longChain(150)),
};

let sg: RunningSchoolgate;
let origin: CertOrigin;
const badDer: Record<string, CertOrigin> = {};
const hosts = Object.fromEntries([...Object.keys(CASES), 'bad-der.test'].map((h) => [h, '127.0.0.1']));

beforeAll(async () => {
  const dir = tempDir();
  const caFile = path.join(dir, 'public-ca.pem');
  writeFileSync(caFile, publicCa.root.certPem);
  origin = await startCertOrigin(CASES, 'good.test');
  const good = CASES['good.test']!.leaf.der;
  badDer.garbage = await startBadDerOrigin(Buffer.from('this is not DER at all, just text'.repeat(8)));
  badDer.truncated = await startBadDerOrigin(good.subarray(0, 400));
  badDer.empty = await startBadDerOrigin(Buffer.alloc(0));
  const config = testConfig(
    {
      tunnelPorts: [origin.port, ...Object.values(badDer).map((o) => o.port)],
      hosts,
      tls: { certsDir: path.join(dir, 'certs'), extraCaFiles: [caFile] },
    },
    dir,
  );
  sg = await startTestProxy(config);
});

afterAll(async () => {
  await sg?.stop();
  await Promise.all([origin, ...Object.values(badDer)].map((o) => o?.close()));
});

function rows(): Row[] {
  return auditRows<Row>(sg.auditPath);
}

function fetchVia(host: string, port: number, path: string, extra: Record<string, string> = {}) {
  return httpsThroughProxy(sg.address.port, `${host}:${port}`, {
    ca: sg.proxy.tls!.ca.certPem,
    requests: [get(`${host}:${port}`, path, extra)],
  });
}

/** The refusal is answered, its row committed before the page (read at once, never waited for), and the next request served. */
async function expectRefused(host: string, port: number, cause: string, note: RegExp) {
  const path = `/${cause}/${Math.random().toString(36).slice(2)}`;
  const res = await fetchVia(host, port, path);
  expect(res.tlsError, 'the client trusts the school CA: its own handshake succeeds').toBeNull();
  expect(res.status).toBe(502);
  expect(res.body).toContain(`(upstream-cert:${cause})`);
  expect(res.body).not.toContain(ORIGIN_BODY);

  const forPath = rows().filter((r) => r.path === path);
  const refusal = forPath.find((r) => r.action === 'error');
  expect(refusal, JSON.stringify(forPath)).toMatchObject({
    host,
    kind: 'inspected',
    reason: `upstream-cert:${cause}`,
    status: 502,
    profile: 'guest',
  });
  expect(refusal!.note).toMatch(note);
  expect(res.body, 'the page quotes the refusal row').toContain(refusal!.id);
  // The request's own row: allowed by policy, before the origin was tried.
  expect(forPath.find((r) => r.action === 'allow')).toMatchObject({ host, kind: 'inspected' });

  const next = await fetchVia('good.test', origin.port, '/after');
  expect(next.status).toBe(200);
  expect(next.body).toBe(ORIGIN_BODY);
}

describe('upstream certificates a browser would refuse are refused, never re-signed', () => {
  it('serves an origin whose certificate meets the policy (the control)', async () => {
    const res = await fetchVia('good.test', origin.port, '/');
    expect(res.status).toBe(200);
    expect(res.body).toBe(ORIGIN_BODY);
    expect(res.peer?.issuer.CN).toMatch(/^schoolgate school CA/);
  });

  it.each<[string, string, RegExp]>([
    ['cn-only.test', 'no-san', /no DNS name in a subjectAltName/],
    ['rsa1024.test', 'weak-key', /RSA 1024-bit key \(certificate 0 of 3\)/],
    // OpenSSL's own security level refuses these before the policy runs: one reason all the same.
    ['sha1.test', 'weak-signature', /digest algorithm too weak/],
    ['md5.test', 'weak-signature', /digest algorithm too weak/],
    ['sha1-intermediate.test', 'weak-signature', /digest algorithm too weak/],
  ])('%s → upstream-cert:%s', async (host, cause, note) => {
    await expectRefused(host, origin.port, cause, note);
  });

  it('refuses a WebSocket upgrade to a CN-only origin with the same page and row', async () => {
    const path = `/ws/${Math.random().toString(36).slice(2)}`;
    const res = await fetchVia('cn-only.test', origin.port, path, {
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version': '13',
    });
    expect(res.status).toBe(502);
    expect(res.body).toContain('(upstream-cert:no-san)');
    expect(rows().find((r) => r.path === path && r.action === 'error')).toMatchObject({
      reason: 'upstream-cert:no-san',
      status: 502,
    });
  });
});

describe('hostile upstream certificates (C09): a 502 page and a row, never a crash', () => {
  it.each<[string, string, string, RegExp]>([
    ['an empty CN and no SAN', 'empty-cn.test', 'no-san', /no DNS name in a subjectAltName/],
    ['10,000 SANs, none of them the host', 'many-sans.test', 'wrong-host', /ALTNAME_INVALID/],
    ['10,000 SANs in a certificate over 100 KiB', 'huge-sans.test', 'too-large', /excessive message size/],
    ['a chain of 150 intermediates', 'huge-chain.test', 'too-large', /excessive message size/],
  ])('%s', async (_, host, cause, note) => {
    await expectRefused(host, origin.port, cause, note);
  });

  it.each(['garbage', 'truncated', 'empty'])(
    'a certificate that is %s DER → bad-certificate',
    async (kind) => {
      await expectRefused('bad-der.test', badDer[kind]!.port, 'bad-certificate', /asn1 encoding routines/);
    },
  );
});
