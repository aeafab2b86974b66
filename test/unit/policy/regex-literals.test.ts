/**
 * The URL regex prefilter's literals (regex-literals.ts): a table of patterns, and a property on generated
 * patterns: whenever RE2 (case-insensitive, as rules run) matches an ASCII subject, the lower-cased subject
 * holds one of the pattern's literals. Subjects are drawn from the pattern itself, so most of them match.
 */
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { requiredLiterals } from '../../../src/policy/regex-literals.js';
import { UrlLiteralFinder } from '../../../src/policy/url-literal-finder.js';
import { fuzzParams } from '../../fuzz/fuzz.js';
import { UT1_EXPRESSIONS } from './ut1-expressions.js';

describe('required literals of a pattern', () => {
  it.each([
    ['abc', ['abc']],
    ['ABC', ['abc']],
    ['a(b|c)d', ['abd', 'acd']],
    ['x?y', ['y']],
    ['images?\\.', ['image.', 'images.']],
    ['[abc]def', ['def']],
    ['^foo$', ['foo']],
    ['\\bfoo\\d+', ['foo']],
    ['(?:ab)+c', ['ab']],
    ['(?P<n>host)/x', ['host/x']],
    ['a.bcd', ['bcd']],
    // Unsure, so no prefilter: the regex always runs.
    ['(a|)', undefined],
    ['a*', undefined],
    ['.', undefined],
    ['(?i)abc', undefined],
    ['\\x41bc', undefined],
    ['\\Qa.b\\E', undefined],
    ['[[:alpha:]]xyz', undefined],
    ['a{,2}', undefined],
    ['bücher', undefined],
    ['\\pLabc', undefined],
  ])('%s', (pattern, expected) => {
    expect(requiredLiterals(pattern)).toEqual(expected);
  });

  it("finds literals for each of UT1's expressions", () => {
    for (const { list, source } of UT1_EXPRESSIONS)
      expect(requiredLiterals(source), list).toBeInstanceOf(Array);
    expect(requiredLiterals(UT1_EXPRESSIONS.find((e) => e.list === 'malware')!.source)).toEqual([
      '/search?q=',
    ]);
  });
});

/** A generated pattern: its text, and a way to draw a string from it (which may still miss an anchor). */
interface Gen {
  text: string;
  draw: (pick: () => number) => string;
}

const CHARS = ['a', 'b', 'B', 'k', 'K', 's', '/', '.', '?', '-'];
const SPECIAL = new Set(['.', '?']);

const literal = fc.constantFrom(...CHARS).map((c): Gen => ({
  text: SPECIAL.has(c) ? `\\${c}` : c,
  // A letter may be drawn in the other case: rules match case-insensitively.
  draw: (pick) => (pick() % 3 === 0 ? c.toUpperCase() : c.toLowerCase()),
}));

const atom = fc.constantFrom<Gen>(
  { text: '.', draw: (pick) => CHARS[pick() % CHARS.length]! },
  { text: '[ab]', draw: (pick) => (pick() % 2 === 0 ? 'a' : 'b') },
  { text: '[^a]', draw: () => 'z' },
  { text: '\\d', draw: (pick) => String(pick() % 10) },
  { text: '\\w', draw: () => 'q' },
  { text: '^', draw: () => '' },
  { text: '$', draw: () => '' },
  { text: '\\b', draw: () => '' },
);

const pattern: fc.Arbitrary<Gen> = fc.letrec<{ node: Gen }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    literal,
    literal,
    atom,
    fc.array(tie('node'), { minLength: 1, maxLength: 4 }).map((parts): Gen => ({
      text: parts.map((p) => p.text).join(''),
      draw: (pick) => parts.map((p) => p.draw(pick)).join(''),
    })),
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((branches): Gen => ({
      text: `(${branches.map((b) => b.text).join('|')})`,
      draw: (pick) => branches[pick() % branches.length]!.draw(pick),
    })),
    fc
      .tuple(tie('node'), fc.constantFrom('*', '+', '?', '{2}', '{1,3}', '{0,2}', '+?'))
      .map(([inner, op]): Gen => {
        const [min, max] =
          op === '*'
            ? [0, 2]
            : op.startsWith('+')
              ? [1, 2]
              : op === '?'
                ? [0, 1]
                : op === '{2}'
                  ? [2, 2]
                  : op === '{1,3}'
                    ? [1, 3]
                    : [0, 2];
        return {
          text: `(?:${inner.text})${op}`,
          draw: (pick) => {
            let out = '';
            for (let n = min + (pick() % (max - min + 1)); n > 0; n--) out += inner.draw(pick);
            return out;
          },
        };
      }),
  ),
})).node;

describe('a pattern never matches an ASCII subject without one of its literals', () => {
  it('on generated patterns and subjects drawn from them', () => {
    fc.assert(
      fc.property(
        pattern,
        fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
        fc.constantFrom('', 'x', 'host.example/', 'A/'),
        fc.constantFrom('', '?q=1', '/b'),
        (gen, choices, before, after) => {
          let next = 0;
          const pick = () => choices[next++ % choices.length]!;
          const re = RE2JS.compile(gen.text, RE2JS.CASE_INSENSITIVE);
          const literals = requiredLiterals(gen.text);
          for (let i = 0; i < 4; i++) {
            const subject = `${before}${gen.draw(pick)}${after}`;
            if (!re.test(subject) || literals === undefined) continue;
            const lower = subject.toLowerCase();
            expect(
              literals.some((l) => lower.includes(l)),
              `${gen.text} matches ${subject} without any of ${JSON.stringify(literals)}`,
            ).toBe(true);
          }
        },
      ),
      fuzzParams(2000),
    );
  });
});

describe('a URL literal finder answers as a search of the joined host and path would', () => {
  const piece = fc.constantFrom(
    'com',
    'COM',
    'bing',
    '.',
    'a',
    'search',
    '?q=',
    'Image',
    '/',
    'adverts',
    'x-y',
  );
  const literals = fc.array(
    fc.constantFrom('com/search', 'adverts/', 'bing.com/s', '/image?', 'search?q=', 'a.', 'ng/'),
    {
      minLength: 1,
      maxLength: 4,
    },
  );
  it('on generated hosts, paths and literals', () => {
    fc.assert(
      fc.property(
        literals,
        fc.array(
          piece, // a host with `/` or `?` (no canonical one has them) must answer yes
          { maxLength: 4 },
        ),
        fc.array(piece, { maxLength: 5 }),
        fc.constantFrom('', '\u017F', '\u212A'),
        (lits, hostParts, pathParts, odd) => {
          const host = `h${hostParts.join('')}`;
          const path = `/${pathParts.join('')}${odd}`;
          const joined = `${host}${path}`.toLowerCase();
          const oddHost = /[^a-z0-9_.-]/i.test(host);
          const expected = odd !== '' || oddHost || lits.some((l) => joined.includes(l));
          expect(new UrlLiteralFinder(lits).mayContain(host, path)).toBe(expected);
        },
      ),
      fuzzParams(2000),
    );
  });
});
