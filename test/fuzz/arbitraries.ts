/**
 * Generators shared by the fuzz files: host names as a pupil might spell them, and hostile text.
 * Each spelling generator comes with the canonical value it must normalise to, worked out independently
 * of src/policy/host.ts (from the bytes of the address, or the ASCII name), so a property can never
 * pass by comparing the code with itself.
 */
import fc from 'fast-check';

/** Characters that have broken host and URL parsers before: separators, escapes, look-alikes, controls. */
export const TRICKY_CHARS = [
  ...'abcxyzABZ0179_-.%2EeFf[]:@/\\?#*~ ',
  '\t',
  '\n',
  '\r',
  '\0',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u00ad',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2060',
  '\ufeff',
  '\u3002', // ideographic full stop
  '\uff0e', // fullwidth full stop
  '\uff61', // halfwidth ideographic full stop
  '\uff42', // fullwidth b
  '\uff10', // fullwidth 0
  '\u0430', // Cyrillic a
  'ü',
  'ß',
  'ς',
  '\ufb01', // fi ligature
  '\u2168', // Roman numeral nine
  'x',
  'n',
  '-',
  '\ud800', // a lone surrogate
];

/** Short strings over TRICKY_CHARS, mixed with arbitrary UTF-16 text. */
export const trickyText = (maxLength = 40): fc.Arbitrary<string> =>
  fc.oneof(
    fc.array(fc.constantFrom(...TRICKY_CHARS), { maxLength }).map((cs) => cs.join('')),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'grapheme-ascii', maxLength }),
  );

// An ASCII label that is not an IPv4 number and not an IDN ACE label: letters, digits and inner hyphens.
const asciiLabel = fc
  .stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/)
  .filter((l) => !/^xn--/.test(l) && !/^[a-z0-9]{2}--/.test(l));
const tld = fc.stringMatching(/^[a-z]{2,6}$/);

/** A plain ASCII domain name, lower case, as a list would hold it. */
export const asciiDomain = fc
  .tuple(fc.array(asciiLabel, { minLength: 1, maxLength: 4 }), tld)
  .map(([labels, top]) => [...labels, top].join('.'));

// Letters that survive UTS-46 unchanged and round-trip through upper case one for one.
const UNICODE_LETTERS = [
  ...'äöüéèñçåøæłžščğışαβγδεζηθλμπστφ',
  ...'абвгдежзиклмнопрстуфхцчшщыэюя',
  '中',
  '文',
  '日',
];
const unicodeLabel = fc
  .array(
    fc.oneof(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), fc.constantFrom(...UNICODE_LETTERS)),
    {
      minLength: 1,
      maxLength: 10,
    },
  )
  .map((cs) => cs.join(''))
  .filter((l) => /\P{ASCII}/u.test(l));

/** A domain with at least one non-ASCII label (an IDN). */
export const unicodeDomain = fc
  .tuple(fc.array(fc.oneof(asciiLabel, unicodeLabel), { minLength: 0, maxLength: 3 }), unicodeLabel, tld)
  .map(([labels, idn, top]) => [...labels, idn, top].join('.'));

/** Four bytes of an IPv4 address and its dotted quad, the only form the proxy logs and decides on. */
export const ipv4Bytes = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
export const dottedQuad = (b: readonly number[]): string => b.join('.');

type Radix = 'dec' | 'hex' | 'HEX' | 'oct';
const radix = fc.constantFrom<Radix>('dec', 'hex', 'HEX', 'oct');

/** A number in one of the radixes the WHATWG IPv4 parser reads (0x1f, 0X1F, 017, 15), with optional zeros. */
function numberIn(n: number, r: Radix, zeros: number): string {
  switch (r) {
    case 'dec':
      return n.toString(10);
    case 'hex':
      return `0x${'0'.repeat(zeros)}${n.toString(16)}`;
    case 'HEX':
      return `0X${'0'.repeat(zeros)}${n.toString(16).toUpperCase()}`;
    case 'oct':
      return `0${'0'.repeat(zeros)}${n.toString(8)}`;
  }
}

/**
 * Every way an IPv4 address can be written in a URL host (WHATWG URL §3.5): one to four parts, the last
 * part holding the remaining bytes, each part in decimal, octal or hex; optionally a trailing dot.
 */
export const ipv4Spelling = fc
  .record({
    bytes: ipv4Bytes,
    parts: fc.integer({ min: 1, max: 4 }),
    radixes: fc.array(radix, { minLength: 4, maxLength: 4 }),
    zeros: fc.array(fc.nat(2), { minLength: 4, maxLength: 4 }),
    trailingDot: fc.boolean(),
  })
  .map(({ bytes, parts, radixes, zeros, trailingDot }) => {
    const leading = bytes.slice(0, parts - 1);
    const rest = bytes.slice(parts - 1).reduce((acc, b) => acc * 256 + b, 0);
    const numbers = [...leading, rest];
    const text = numbers.map((n, i) => numberIn(n, radixes[i]!, zeros[i]!)).join('.');
    return { spelling: trailingDot ? `${text}.` : text, canonical: dottedQuad(bytes) };
  });

/** ASCII letters to their fullwidth forms (ｂｌｏｃｋｅｄ), which UTS-46 maps back. */
export function fullwidth(s: string): string {
  return s.replace(/[a-z0-9]/gi, (c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0));
}

/** Percent-encodes each UTF-8 byte of the characters picked by `pick`. */
export function percentEncode(s: string, pick: (i: number) => boolean): string {
  return [...s]
    .map((c, i) =>
      pick(i)
        ? [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('')
        : c,
    )
    .join('');
}

/** Flips the case of the characters picked, where upper case maps back to the same letter. */
export function flipCase(s: string, pick: (i: number) => boolean): string {
  return [...s]
    .map((c, i) => {
      if (!pick(i)) return c;
      const up = c.toUpperCase();
      return up.length === 1 && up.toLowerCase() === c ? up : c;
    })
    .join('');
}
