/**
 * Fuzzing the request-target parser (src/policy/target.ts) and the head reader every transport uses
 * (src/exchange/read-head.ts): typed refusals only, one canonical target, the same reading on every path.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readInnerHead, readProxyHead } from '../../src/exchange/read-head.js';
import { normaliseHost } from '../../src/policy/host.js';
import { isTargetError } from '../../src/policy/target-error.js';
import { normalisePath, parseAbsoluteTarget, parseConnectTarget } from '../../src/policy/target.js';
import type { Target } from '../../src/policy/types.js';
import { authorityOf } from '../../src/proxy/raw-checks.js';
import { head, NOT_OWN as notOwn, TUNNEL as tunnel } from '../helpers/heads.js';
import { asciiDomain, ipv4Spelling, TRICKY_CHARS, trickyText } from './arbitraries.js';
import { FUZZ_TIMEOUT, fuzzParams, outcome } from './fuzz.js';

const webUrl = fc.webUrl({
  validSchemes: ['http', 'https'],
  withQueryParameters: true,
  withFragments: true,
  authoritySettings: { withIPv4: true, withIPv4Extended: true, withIPv6: true, withPort: true },
});

// Path and query text rich in what normalisation touches: dot segments, slashes, escapes (good and bad).
const PATH_PIECES = [...'//..%%%?#&=~aB2345EeFf', '%2e', '%2E', '%2F', '%25', '%7e', '%41', '%zz'];
const pathText = fc.array(fc.constantFrom(...PATH_PIECES), { maxLength: 16 }).map((p) => p.join(''));

// Authorities as a client might write them: a name or address, an optional port, and hostile extras.
const authority = fc
  .tuple(
    fc.oneof(
      asciiDomain,
      ipv4Spelling.map((s) => s.spelling),
      trickyText(20),
    ),
    fc.option(fc.oneof(fc.nat(70000).map(String), trickyText(6)), { nil: undefined }),
  )
  .map(([host, port]) => (port === undefined ? host : `${host}:${port}`));

function expectTypedRefusal(fn: () => unknown): void {
  const r = outcome(fn);
  if (!r.ok) expect(isTargetError(r.error), String(r.error)).toBe(true);
}

describe('request-target parsing under fuzzing', () => {
  it(
    'refuses with a TargetError, never a crash, on any absolute URL or CONNECT authority',
    () => {
      const anyUrl = fc.oneof(
        webUrl,
        trickyText(80),
        fc
          .tuple(fc.constantFrom('http://', 'HTTPS://', 'ftp://', 'http:/', ''), authority, pathText)
          .map((p) => p.join('')),
      );
      fc.assert(
        fc.property(anyUrl, authority, (url, auth) => {
          expectTypedRefusal(() => parseAbsoluteTarget(url));
          expectTypedRefusal(() => parseConnectTarget(auth));
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'gives a canonical target: normalised host, port in range, a path that normalises to itself',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(
            webUrl,
            fc.tuple(fc.constantFrom('http://', 'https://'), authority, pathText).map((p) => p.join('')),
          ),
          (url) => {
            const r = outcome(() => parseAbsoluteTarget(url));
            if (!r.ok) return;
            const t = r.value;
            expect(normaliseHost(t.host)).toEqual({ host: t.host, kind: t.hostKind });
            expect(t.port).toBeGreaterThanOrEqual(1);
            expect(t.port).toBeLessThanOrEqual(65535);
            expect(t.path.startsWith('/')).toBe(true);
            expect(t.path).not.toContain('#');
            expect(normalisePath(t.path)).toBe(t.path);
            // Written back as the proxy writes it upstream, it reads as the same target.
            expect(parseAbsoluteTarget(`${t.scheme}://${authorityOf(t)}${t.path}`)).toEqual(t);
          },
        ),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'normalises any path to one that normalises to itself, with no dot segments or empty segments',
    () => {
      fc.assert(
        fc.property(pathText, (raw) => {
          const once = normalisePath(raw);
          expect(normalisePath(once)).toBe(once);
          const path = once.split('?')[0]!;
          expect(path.startsWith('/')).toBe(true);
          expect(path).not.toMatch(/\/\/|\/\.\.?(\/|$)/);
          expect(once).not.toContain('#');
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'reads a CONNECT authority it accepts back from its own host:port',
    () => {
      fc.assert(
        fc.property(authority, (auth) => {
          const r = outcome(() => parseConnectTarget(auth));
          if (!r.ok) return;
          const t: Target = r.value;
          const again = parseConnectTarget(`${t.hostKind === 'ipv6' ? `[${t.host}]` : t.host}:${t.port}`);
          expect(again).toEqual(t);
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );
});

describe('request heads under fuzzing', () => {
  it(
    'every head is a target, an own page or a reject with a bad-request reason: never a throw',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(webUrl, trickyText(80)),
          fc.option(trickyText(30), { nil: undefined }),
          pathText,
          (raw, hostHeader, path) => {
            for (const reading of [
              readProxyHead(head(raw), notOwn),
              readInnerHead(head(`/${path}`, hostHeader), tunnel),
              readInnerHead(head(raw, hostHeader), tunnel),
            ]) {
              expect(['target', 'own-page', 'reject']).toContain(reading.kind);
              if (reading.kind === 'reject') {
                expect(reading.status).toBe(400);
                expect(reading.reason).toMatch(/^bad-request:[a-z-]+$/);
              }
            }
          },
        ),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    "reads a host the same way on the proxy port and in a tunnel's Host header (same target or same reason)",
    () => {
      // Characters that would end an authority (/?#) make the two readings differ on purpose: the URL
      // parser takes the rest as a path, the Host header is refused. Everything else must agree.
      const hostHeader = fc
        .oneof(
          authority,
          fc.array(fc.constantFrom(...TRICKY_CHARS), { maxLength: 24 }).map((c) => c.join('')),
        )
        .filter((h) => !/[/?#]/.test(h));
      fc.assert(
        fc.property(hostHeader, (h) => {
          const onProxyPort = readProxyHead(head(`http://${h}/x`), notOwn);
          const inTunnel = readInnerHead(head('/x', h), tunnel);
          if (onProxyPort.kind === 'reject') {
            expect(inTunnel).toMatchObject({ kind: 'reject', reason: onProxyPort.reason });
          } else {
            expect(onProxyPort.kind).toBe('target');
            expect(inTunnel.kind).toBe('target');
            if (onProxyPort.kind !== 'target' || inTunnel.kind !== 'target') return;
            expect(inTunnel.target.host).toBe(onProxyPort.target.host);
            expect(inTunnel.target.path).toBe(onProxyPort.target.path);
          }
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );
});
