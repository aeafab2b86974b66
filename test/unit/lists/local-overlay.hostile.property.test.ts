/**
 * The overlay against a full rebuild on generated hostile spellings (overlay-fixture.ts loads both): a few
 * sites, each written as list lines in every form a list or a technician may use (case, trailing dot,
 * `*.` and `.`, IDN and punycode, full-width, IP spellings, scheme, padding, percent-encoding, dot
 * segments), with noise lines, in LF or CRLF files, spread over shipped, provider, local and `removed`
 * files of any category (one that does not exist included), and asked for by targets spelt as hostile
 * clients spell them. The property test beside this one draws only well-formed, canonical lines.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { fuzzParams } from '../../fuzz/fuzz.js';
import { agree, crlf, lf, setUp, SHIPPED, type Files } from './overlay-fixture.js';

/** A site and the spellings of its host a list line may use. */
const SITES: { host: string; spellings: string[] }[] = [
  {
    host: 'blocked.example',
    spellings: [
      'blocked.example',
      'BLOCKED.Example.',
      '*.blocked.example',
      '.blocked.example',
      'ｂｌｏｃｋｅｄ。example',
      ' blocked.example\t',
    ],
  },
  {
    host: 'sub.blocked.example',
    spellings: ['sub.blocked.example', 'SUB.blocked.example.', '*.sub.blocked.example'],
  },
  {
    host: 'xn--bcher-kva.example',
    spellings: ['bücher.example', 'xn--bcher-kva.example', 'BÜCHER.example.', '*.bücher.example'],
  },
  { host: 'github.io', spellings: ['github.io', '*.github.io', 'GitHub.IO.'] },
  { host: 'a.github.io', spellings: ['a.github.io', '*.a.github.io', 'A.GITHUB.io'] },
  {
    host: '10.0.0.1',
    spellings: ['10.0.0.1', '0x0a.0.0.1', '167772161', '10.1', '[::ffff:10.0.0.1]', '012.0.0.1'],
  },
  { host: '2001:db8::1', spellings: ['2001:db8::1', '[2001:DB8::1]', '2001:db8:0:0:0:0:0:1'] },
];
const PATHS = ['', '/', '/A', '/a/b', '/%41/', '/a?x=1', '/a%2Fb', '/a/../b', '/a#frag', '/A?X='];
const NOISE = ['', '   ', '# comment', 'bad..example', 'x.example:80', 'a b', '10.0.0.0/8'];

const site = fc.nat(SITES.length - 1);
const spelling = site.chain((i) => fc.constantFrom(...SITES[i]!.spellings));
const domainLine = fc.oneof(
  { weight: 6, arbitrary: spelling },
  { weight: 1, arbitrary: fc.constantFrom(...NOISE) },
);
const urlLine = fc
  .record({
    host: spelling,
    path: fc.constantFrom(...PATHS),
    scheme: fc.constantFrom('', '', 'http://', 'HTTPS://'),
  })
  .map(({ host, path, scheme }) => {
    const bare = host.trim();
    // An IPv6 host before a path needs its brackets.
    const at = /^[0-9a-f:]+$/i.test(bare) && bare.includes(':') ? `[${bare}]` : bare;
    return `${scheme}${at}${path}`;
  });
const removedLine = fc.oneof(
  spelling,
  urlLine.filter((l) => !/^https?:/i.test(l)),
  fc.constantFrom(...NOISE),
);
const REGEX = ['^blocked\\.', 'bcher', '/a/b', '^10\\.0\\.'];

const file = (lines: fc.Arbitrary<string>) =>
  fc
    .record({ lines: fc.array(lines, { maxLength: 8 }), crlf: fc.boolean() })
    .map((f) => (f.crlf ? crlf : lf)(f.lines));
const category = (names: string[], kinds: ('domains' | 'urls' | 'expressions' | 'removed')[]) =>
  fc.dictionary(
    fc.constantFrom(...names),
    fc.record(
      Object.fromEntries(
        kinds.map((k) => [
          k,
          file(
            k === 'domains'
              ? domainLine
              : k === 'urls'
                ? urlLine
                : k === 'removed'
                  ? removedLine
                  : fc.constantFrom(...REGEX),
          ),
        ]),
      ),
      { requiredKeys: [] },
    ),
  ) as fc.Arbitrary<Files>;

const LOCAL = [...SHIPPED, 'mine', 'ghost'];

function targets(): string[] {
  const out: string[] = [];
  for (const { host } of SITES) {
    const ip = /^[\d.]+$/.test(host);
    const v6 = host.includes(':');
    const forms = v6
      ? ['[2001:db8::1]', '[2001:DB8:0::1]']
      : ip
        ? ['10.0.0.1', '167772161', '[::ffff:10.0.0.1]:8080']
        : [host, `${host.toUpperCase()}.`, `www.${host}:8080`];
    for (const at of forms)
      for (const p of ['/', '/a', '/A/b/c', '/a?x=1&y=2', '/a?x=12', '/%61/b', '/a%2fb', '/b', '/a/b'])
        out.push(`http://${at}${p}`);
  }
  return out;
}

describe('hostile spellings: the overlay answers as a full rebuild', () => {
  it('on generated shipped, provider, local and removed files, before and after a further edit', async () => {
    const urls = targets();
    await fc.assert(
      fc.asyncProperty(
        category(SHIPPED, ['domains', 'urls', 'expressions']),
        category([...SHIPPED, 'mine'], ['domains', 'urls']),
        category(LOCAL, ['domains', 'urls', 'expressions', 'removed']),
        async (shipped, provider, local) => {
          const c = { shipped, provider, mine: ['mine'], local, expect: {}, also: urls };
          const { load } = await setUp(c);
          agree(await load(), c);
          agree(await load(), c);
        },
      ),
      fuzzParams(40),
    );
  });
});
