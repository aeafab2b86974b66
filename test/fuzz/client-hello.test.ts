/**
 * Fuzzing the ClientHello parser (src/tls/client-hello.ts): the SNI it reads is the tunnel's second
 * decision, so it must read a well-formed hello exactly, refuse a malformed one, and never crash.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseClientHello } from '../../src/tls/client-hello.js';
import {
  alpnExtension,
  clientHelloMessage,
  inRecords,
  sniExtension,
  type Extension,
} from '../helpers/client-hello.js';
import { asciiDomain } from './arbitraries.js';
import { FUZZ_TIMEOUT, fuzzParams, outcome } from './fuzz.js';

type Parsed = ReturnType<typeof parseClientHello>;

function expectAResult(parsed: Parsed): void {
  if (parsed === 'more' || parsed === null) return;
  expect(Object.keys(parsed).sort()).toEqual(['alpn', 'ech', 'sni']);
}

const alpnProtocol = fc.stringMatching(/^[a-z0-9./-]{1,12}$/);
// Extensions we do not read: GREASE (0x?a?a), key_share, supported_versions, padding...
const otherExtension = fc.record({
  type: fc.oneof(
    fc.constantFrom(0x0a0a, 0x3a3a, 10, 11, 13, 21, 23, 35, 43, 45, 51),
    fc.integer({ min: 17, max: 0xfe00 }),
  ),
  data: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
});

/** A well-formed ClientHello and what the parser must read from it. */
const wellFormed = fc
  .record({
    sni: fc.option(asciiDomain, { nil: null }),
    upperCase: fc.boolean(),
    alpn: fc.option(fc.array(alpnProtocol, { minLength: 1, maxLength: 3 }), { nil: undefined }),
    ech: fc.boolean(),
    others: fc.uniqueArray(otherExtension, { maxLength: 4, selector: (e) => e.type }),
    order: fc.nat(),
    sessionId: fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a)),
    ciphers: fc.array(fc.nat(0xffff), { minLength: 1, maxLength: 20 }),
    fragments: fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 4 }),
  })
  .map(({ sni, upperCase, alpn, ech, others, order, sessionId, ciphers, fragments }) => {
    const extensions: Extension[] = others.filter((e) => e.type !== 16 && e.type !== 0xfe0d);
    if (sni !== null) extensions.push(sniExtension([{ name: upperCase ? sni.toUpperCase() : sni }]));
    if (alpn) extensions.push(alpnExtension(alpn));
    if (ech) extensions.push({ type: 0xfe0d, data: Buffer.from([0, 1, 2, 3]) });
    // Any order: the parser must not depend on where the SNI sits.
    const rotated = extensions.map((_, i) => extensions[(i + order) % extensions.length]!);
    const bytes = inRecords(clientHelloMessage({ sessionId, ciphers, extensions: rotated }), fragments);
    return { bytes, expected: { sni, alpn: alpn ?? [], ech } };
  });

/** A hello whose SNI extension breaks RFC 6066 in one way: each is refused by OpenSSL, so by us too. */
const malformedSni = fc
  .record({
    a: asciiDomain,
    b: asciiDomain,
    how: fc.constantFrom(
      'two-names',
      'two-extensions',
      'list-too-long',
      'list-too-short',
      'name-overruns',
      'empty-name',
      'other-name-type',
      'non-ascii-name',
    ),
  })
  .map(({ a, b, how }) => {
    let sni: Extension[];
    switch (how) {
      case 'two-names':
        sni = [sniExtension([{ name: a }, { name: b }])];
        break;
      case 'two-extensions':
        sni = [sniExtension([{ name: a }]), sniExtension([{ name: b }])];
        break;
      case 'list-too-long':
      case 'list-too-short': {
        const data = Buffer.from(sniExtension([{ name: a }]).data);
        data.writeUInt16BE(data.readUInt16BE(0) + (how === 'list-too-long' ? 1 : -1), 0);
        sni = [{ type: 0, data }];
        break;
      }
      case 'name-overruns': {
        const data = Buffer.from(sniExtension([{ name: a }]).data);
        data.writeUInt16BE(data.readUInt16BE(3) + 5, 3);
        sni = [{ type: 0, data }];
        break;
      }
      case 'empty-name':
        sni = [sniExtension([{ name: '' }])];
        break;
      case 'other-name-type':
        sni = [sniExtension([{ type: 1, name: a }])];
        break;
      case 'non-ascii-name':
        sni = [
          sniExtension([{ name: Buffer.concat([Buffer.from(a), Buffer.from([0xad]), Buffer.from(b)]) }]),
        ];
        break;
    }
    return { how, bytes: inRecords(clientHelloMessage({ extensions: [alpnExtension(['h2']), ...sni] })) };
  });

describe('parseClientHello under fuzzing', () => {
  it(
    'returns a hello, "more" or null on any bytes, never throws',
    () => {
      const flight = fc.oneof(
        fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
        // A plausible record header, so the random part reaches the handshake and body parsers.
        fc
          .tuple(fc.constantFrom(1, 2, 3, 4), fc.uint8Array({ maxLength: 600 }))
          .map(([minor, body]) =>
            Buffer.concat([
              Buffer.from([
                0x16,
                3,
                minor,
                body.length >> 8,
                body.length & 0xff,
                1,
                0,
                ((body.length - 4) >> 8) & 0xff,
                (body.length - 4) & 0xff,
              ]),
              Buffer.from(body),
            ]),
          ),
      );
      fc.assert(
        fc.property(flight, (bytes) => {
          const r = outcome(() => parseClientHello(bytes));
          expect(r.ok, r.ok ? '' : String(r.error)).toBe(true);
          if (r.ok) expectAResult(r.value);
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'reads a well-formed hello exactly, however it is split into records',
    () => {
      fc.assert(
        fc.property(wellFormed, ({ bytes, expected }) => {
          expect(parseClientHello(bytes)).toEqual(expected);
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'asks for more on every strict prefix of a well-formed flight, and ignores what follows it',
    () => {
      fc.assert(
        fc.property(wellFormed, fc.uint8Array({ maxLength: 64 }), ({ bytes, expected }, after) => {
          for (let n = 0; n < bytes.length; n += Math.max(1, Math.floor(bytes.length / 40)))
            expect(parseClientHello(bytes.subarray(0, n))).toBe('more');
          expect(parseClientHello(bytes.subarray(0, bytes.length - 1))).toBe('more');
          expect(parseClientHello(Buffer.concat([bytes, after]))).toEqual(expected);
        }),
        fuzzParams(500),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'gives the same answer however the bytes arrive: once a prefix is decided, more bytes change nothing',
    () => {
      const mutated = fc
        .tuple(wellFormed, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 }))
        .map(([{ bytes }, flips]) => {
          const copy = Buffer.from(bytes);
          for (const [at, value] of flips) copy[at % copy.length] = value;
          return copy;
        });
      fc.assert(
        fc.property(mutated, fc.nat(), (bytes, cut) => {
          const whole = parseClientHello(bytes);
          expectAResult(whole);
          const early = parseClientHello(bytes.subarray(0, cut % (bytes.length + 1)));
          if (early !== 'more') expect(whole).toEqual(early);
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'refuses a hello whose SNI is not exactly one ASCII host_name (the name a server reads may differ)',
    () => {
      fc.assert(
        fc.property(malformedSni, ({ bytes }) => {
          expect(parseClientHello(bytes)).toBeNull();
        }),
        fuzzParams(500),
      );
    },
    FUZZ_TIMEOUT,
  );
});
