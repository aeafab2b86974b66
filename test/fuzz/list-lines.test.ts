/**
 * Fuzzing list-line parsing: the entry parsers (src/policy/entries.ts, src/lists/entry.ts) and the line
 * reader every list file goes through (src/lists/read-lines.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isSchoolgateError } from '../../src/errors.js';
import { anyLineKey, domainLineKey, entryOf, parseCliEntry, urlLineKey } from '../../src/lists/entry.js';
import { forEachLine } from '../../src/lists/read-lines.js';
import { parseDomainLine, parseEntry, parseUrlLine } from '../../src/policy/entries.js';
import { asciiDomain, flipCase, ipv4Spelling, trickyText, unicodeDomain } from './arbitraries.js';
import { FUZZ_TIMEOUT, fuzzParams, outcome } from './fuzz.js';

const PATH_TEXT = fc
  .array(fc.constantFrom(...'/./..%?=&~aZ09#', '%2e', '%2F', '%41', '%zz', 'ü'), { maxLength: 10 })
  .map((p) => p.join(''));
const ipv6Text = fc
  .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
  .map((g) => g.map((n) => n.toString(16)).join(':'));

/** Lines as they appear in real lists and as a technician might type them. */
const listLine = fc.oneof(
  trickyText(50),
  fc
    .tuple(
      fc.constantFrom('', '*.', '.', 'http://', 'HTTPS://', ' ', '#'),
      fc.oneof(
        asciiDomain,
        unicodeDomain,
        ipv4Spelling.map((s) => s.spelling),
        ipv6Text,
        ipv6Text.map((v) => `[${v}]`),
      ),
      fc.option(fc.constantFrom(':80', '.', '..', ':'), { nil: '' }),
      fc.option(PATH_TEXT, { nil: '' }),
      fc.constantFrom('', ' ', '\r', '\t'),
    )
    .map((parts) => parts.join('')),
);

describe('list entries under fuzzing', () => {
  it(
    'every line is an entry, a skip or an invalid line with a reason: never a throw',
    () => {
      fc.assert(
        fc.property(listLine, (line) => {
          for (const parse of [parseDomainLine, parseUrlLine, parseEntry]) {
            const r = outcome(() => parse(line));
            expect(r.ok, r.ok ? '' : String(r.error)).toBe(true);
            if (r.ok && r.value.kind === 'invalid') expect(r.value.reason).toMatch(/\S/);
          }
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'an accepted line, written back as its normalised text, reads as the same entry',
    () => {
      fc.assert(
        fc.property(listLine, (line) => {
          const asDomain = entryOf(parseDomainLine(line));
          if (asDomain) expect(domainLineKey(asDomain.text)).toBe(asDomain.key);
          const asUrl = entryOf(parseUrlLine(line));
          if (asUrl) expect(urlLineKey(asUrl.text)).toBe(asUrl.key);
          const either = entryOf(parseEntry(line));
          if (either) expect(anyLineKey(either.text)).toBe(either.key);
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  // Inputs the property above once shrank to, kept so they are checked on every run whatever the seed.
  it.each([
    ['a.example?\t#', 'a.example/?%09'], // a tab before a comment: trimmed away when written back, unless escaped
    ['a.example/b c', 'a.example/b%20c'],
    ['a.example/?x\u0001y', 'a.example/?x%01y'],
  ])('reads the list line %j as %j, and that text back as the same entry', (line, text) => {
    const entry = entryOf(parseUrlLine(line));
    expect(entry?.text).toBe(text);
    expect(urlLineKey(text)).toBe(entry?.key);
    expect(anyLineKey(entryOf(parseEntry(line))!.text)).toBe(entry?.key);
  });

  it(
    'gives a domain one key however the list spells it (*., leading dot, case, trailing dot)',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(asciiDomain, unicodeDomain),
          fc.constantFrom('', '*.', '.'),
          fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
          fc.boolean(),
          (name, prefix, mask, dot) => {
            const spelling = `${prefix}${flipCase(name, (i) => mask[i % 40]!)}${dot ? '.' : ''}`;
            expect(domainLineKey(spelling)).toBe(domainLineKey(name));
            expect(domainLineKey(spelling)).toBeDefined();
          },
        ),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'reads an IPv4 address in a list however it is written, as the dotted quad',
    () => {
      fc.assert(
        fc.property(ipv4Spelling, ({ spelling, canonical }) => {
          expect(parseDomainLine(spelling)).toEqual({ kind: 'ip', host: canonical });
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'the CLI refuses with SG_ENTRY_INVALID or accepts text that the file parser reads back the same',
    () => {
      fc.assert(
        fc.property(listLine, (line) => {
          const r = outcome(() => parseCliEntry(line));
          if (!r.ok) {
            expect(isSchoolgateError(r.error) && r.error.code, String(r.error)).toBe('SG_ENTRY_INVALID');
            return;
          }
          const { kind, text, key } = r.value;
          expect((kind === 'domain' ? domainLineKey : urlLineKey)(text)).toBe(key);
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );
});

describe('list files under fuzzing', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-fuzz-lines-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;

  /** Lines read from `bytes` written as split chunk files (`split -b`), or the error's code, line and byte. */
  async function read(bytes: Buffer, cuts: number[]): Promise<unknown> {
    const bounds = [...new Set([0, ...cuts.map((c) => c % (bytes.length + 1)), bytes.length])].sort(
      (a, b) => a - b,
    );
    const files = bounds.slice(1).map((end, i) => {
      const file = path.join(dir, `f${n++}`);
      writeFileSync(file, bytes.subarray(bounds[i], end));
      return file;
    });
    const lines: string[] = [];
    try {
      await forEachLine(files, (line) => lines.push(line));
      return { lines };
    } catch (err) {
      if (!isSchoolgateError(err)) throw err;
      // Only the code: which bad line is named can depend on the split (a NUL in an earlier chunk is
      // named; in the same 64 KiB block a later bad UTF-8 byte is). Both refuse the file.
      return { code: err.code };
    }
  }

  // Text lists with the bytes that break readers: multi-byte characters, CR, controls, invalid UTF-8.
  const listBytes = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc
      .array(fc.oneof(listLine, fc.constantFrom('\n', '\r\n', 'ü', '中', '😀')), { maxLength: 20 })
      .map((parts) => Buffer.from(parts.join('\n'), 'utf8')),
    fc
      .tuple(
        fc.array(listLine, { maxLength: 10 }),
        fc.nat(),
        fc.constantFrom(0x00, 0x80, 0xc3, 0xe4, 0xff, 0x1b),
      )
      .map(([lines, at, bad]) => {
        const text = Buffer.from(lines.join('\n'), 'utf8');
        const i = at % (text.length + 1);
        return Buffer.concat([text.subarray(0, i), Buffer.from([bad]), text.subarray(i)]);
      }),
  );

  it(
    'reads the same lines, or refuses the file, however it is split into chunks',
    async () => {
      await fc.assert(
        fc.asyncProperty(listBytes, fc.array(fc.nat(), { maxLength: 3 }), async (bytes, cuts) => {
          const whole = await read(bytes, []);
          expect(await read(bytes, cuts)).toEqual(whole);
          const text = new TextDecoder('utf-8', { fatal: true });
          const decoded = outcome(() => text.decode(bytes));
          if ('lines' in (whole as object)) {
            // Accepted: exactly the text, split at LF, one trailing CR dropped per line.
            expect(decoded.ok).toBe(true);
            // eslint-disable-next-line no-control-regex -- no control character but TAB, LF, CR passes
            expect(decoded.ok && /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(decoded.value)).toBe(false);
            const expected = decoded.ok ? decoded.value.split('\n') : [];
            if (expected.at(-1) === '') expected.pop();
            expect((whole as { lines: string[] }).lines).toEqual(expected.map((l) => l.replace(/\r$/, '')));
          } else {
            expect(whole).toMatchObject({ code: 'SG_LIST_FILE_INVALID' });
          }
        }),
        fuzzParams(150),
      );
    },
    FUZZ_TIMEOUT,
  );
});
