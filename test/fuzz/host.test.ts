/**
 * Fuzzing normaliseHost (src/policy/host.ts): one canonical host for every spelling a pupil can send.
 */
import { domainToUnicode } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normaliseHost } from '../../src/policy/host.js';
import { isTargetError } from '../../src/policy/target-error.js';
import {
  asciiDomain,
  dottedQuad,
  flipCase,
  fullwidth,
  ipv4Bytes,
  ipv4Spelling,
  percentEncode,
  trickyText,
  unicodeDomain,
} from './arbitraries.js';
import { FUZZ_TIMEOUT, fuzzParams, outcome } from './fuzz.js';

const DOTS = ['.', '\u3002', '\uff0e', '\uff61'];
const INVISIBLE = ['\u200b', '\u00ad'];

/** A spelling of `name` that the UTS-46 mapping and our percent-decoding must bring back to one value. */
const spellingOf = (name: string) =>
  fc
    .record({
      caseMask: fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }),
      dot: fc.constantFrom(...DOTS),
      wide: fc.boolean(),
      invisible: fc.option(fc.tuple(fc.nat(name.length), fc.constantFrom(...INVISIBLE)), { nil: undefined }),
      percentMask: fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }),
      encode: fc.boolean(),
      trailingDot: fc.boolean(),
    })
    .map(({ caseMask, dot, wide, invisible, percentMask, encode, trailingDot }) => {
      let s = flipCase(name, (i) => caseMask[i]!);
      if (wide) s = fullwidth(s);
      // An invisible character inside a label (never next to a dot: that would make an empty label).
      if (invisible) {
        const [at, ch] = invisible;
        if (at > 0 && s[at - 1] !== '.' && s[at] !== '.' && at < s.length)
          s = s.slice(0, at) + ch + s.slice(at);
      }
      s = s.split('.').join(dot);
      if (trailingDot) s = `${s}.`;
      if (encode) s = percentEncode(s, (i) => percentMask[i]!);
      return s;
    });

describe('normaliseHost under fuzzing', () => {
  it(
    'never throws anything but a TargetError, on any text',
    () => {
      fc.assert(
        fc.property(trickyText(60), (raw) => {
          const r = outcome(() => normaliseHost(raw));
          if (!r.ok) expect(isTargetError(r.error), String(r.error)).toBe(true);
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'is idempotent and gives lower-case ASCII of the kind it says',
    () => {
      fc.assert(
        fc.property(fc.oneof(trickyText(60), asciiDomain, unicodeDomain), (raw) => {
          const r = outcome(() => normaliseHost(raw));
          if (!r.ok) return;
          const { host, kind } = r.value;
          expect(normaliseHost(host)).toEqual({ host, kind });
          expect(host).toMatch(/^[a-z0-9_.:-]+$/);
          if (kind === 'ipv4') expect(host).toMatch(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
          if (kind === 'ipv6') expect(host).toContain(':');
          if (kind === 'domain') {
            expect(host.length).toBeLessThanOrEqual(253);
            // A name whose last label reads as a number would be an IPv4 address to a browser: never a domain.
            expect(host.split('.').pop()).not.toMatch(/^(?:\d+|0x[0-9a-f]*)$/);
          }
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'gives an ASCII name one value however it is spelt (case, dots, fullwidth, invisible, %-escapes)',
    () => {
      fc.assert(
        fc.property(
          asciiDomain.chain((name) => fc.tuple(fc.constant(name), spellingOf(name))),
          ([name, spelling]) => {
            expect(normaliseHost(spelling)).toEqual({ host: name, kind: 'domain' });
          },
        ),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'gives an IDN one value, its punycode, whether written in Unicode or ACE form',
    () => {
      fc.assert(
        fc.property(
          unicodeDomain.chain((name) => fc.tuple(fc.constant(name), spellingOf(name))),
          ([name, spelling]) => {
            const { host, kind } = normaliseHost(name);
            expect(kind).toBe('domain');
            expect(host).toMatch(/^[a-z0-9.-]+$/);
            expect(host).toContain('xn--');
            // The ACE form is this name's and no other: it decodes back to the Unicode name.
            expect(domainToUnicode(host)).toBe(name);
            expect(normaliseHost(host).host).toBe(host);
            expect(normaliseHost(spelling).host).toBe(host);
          },
        ),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'recognises an IPv4 address however it is written (2130706433, 0x7f.1, 0177.0.0.1, 127.1, %-escaped)',
    () => {
      fc.assert(
        fc.property(
          ipv4Spelling,
          fc.boolean(),
          fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
          ({ spelling, canonical }, wide, percentMask) => {
            const expected = { host: canonical, kind: 'ipv4' };
            expect(normaliseHost(spelling)).toEqual(expected);
            expect(normaliseHost(spelling.toUpperCase())).toEqual(expected);
            if (wide) expect(normaliseHost(fullwidth(spelling))).toEqual(expected);
            expect(normaliseHost(percentEncode(spelling, (i) => percentMask[i % 40]!))).toEqual(expected);
          },
        ),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'reads an IPv4-mapped IPv6 address as the IPv4 address it reaches',
    () => {
      fc.assert(
        fc.property(ipv4Bytes, fc.boolean(), (b, dottedTail) => {
          const hi = ((b[0] << 8) | b[1]).toString(16);
          const lo = ((b[2] << 8) | b[3]).toString(16);
          const v6 = dottedTail ? `::ffff:${dottedQuad(b)}` : `::ffff:${hi}:${lo}`;
          const expected = { host: dottedQuad(b), kind: 'ipv4' };
          expect(normaliseHost(`[${v6}]`)).toEqual(expected);
          expect(normaliseHost(`[${v6.toUpperCase()}]`)).toEqual(expected);
          expect(normaliseHost(`[0:0:0:0:0:ffff:${hi}:${lo}]`)).toEqual(expected);
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'gives an IPv6 address one value in every textual form',
    () => {
      fc.assert(
        fc.property(fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }), (groups) => {
          const full = groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
          const short = groups.map((g) => g.toString(16)).join(':');
          const canonical = normaliseHost(`[${full}]`);
          for (const form of [short, full.toUpperCase(), `[${short}]`, `[${full}]`])
            expect(normaliseHost(form)).toEqual(canonical);
          if (canonical.kind === 'ipv6') {
            // RFC 5952: lower case, no leading zeros.
            expect(canonical.host).not.toMatch(/(^|:)0[0-9a-f]/);
          }
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );
});
