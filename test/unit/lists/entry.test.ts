/** Command-line list entries: accepted in the policy core's normal form, refused with a reason. */
import { describe, expect, it } from 'vitest';
import { anyLineKey, parseCliEntry } from '../../../src/lists/entry.js';
import { isSchoolgateError } from '../../../src/errors.js';

describe('parseCliEntry', () => {
  it.each([
    ['example.com', 'domain', 'example.com'],
    ['Example.COM.', 'domain', 'example.com'],
    ['*.example.com', 'domain', 'example.com'],
    ['.example.com', 'domain', 'example.com'],
    ['bücher.example', 'domain', 'xn--bcher-kva.example'],
    ['10.0.0.5', 'domain', '10.0.0.5'],
    ['example.com/Path/./a/../b', 'url', 'example.com/Path/b'],
    ['example.com/watch?v=abc', 'url', 'example.com/watch?v=abc'],
  ])('%s → %s %s', (input, kind, text) => {
    expect(parseCliEntry(input)).toMatchObject({ kind, text });
  });

  // Found by test/fuzz/list-lines.test.ts: the text written to the file must read back as the same entry.
  it.each([
    'example.com/%%32%45%%32%45/x',
    'example.com/a%zz',
    // An IPv6 address whose last group looks like a port: written unbracketed, it must read back.
    '[0:1:0:1:0:1:0:1]',
    '2001:db8:1:2:3:4:5:6',
    '[2001:db8:1:2:3:4:5:6]/path',
  ])('%j is written as text that reads back as the same entry', (input) => {
    const entry = parseCliEntry(input);
    expect(anyLineKey(entry.text)).toBe(entry.key);
  });

  it('gives a URL entry and a domain entry different keys, and case-folds URL paths in the key only', () => {
    expect(parseCliEntry('example.com').key).not.toBe(parseCliEntry('example.com/').key);
    expect(parseCliEntry('example.com/A').key).toBe(parseCliEntry('EXAMPLE.com/a').key);
    expect(parseCliEntry('example.com/A').text).toBe('example.com/A');
  });

  it.each([
    ['http://example.com', /has a scheme/],
    ['HTTPS://example.com/x', /has a scheme/],
    ['exa mple.com', /contains a space/],
    ['ads.*.example.com', /wildcards are not supported/],
    ['example.*', /wildcards are not supported/],
    ['example.com:8080', /port/],
    ['#example.com', /comment/],
    ['', /empty/],
    ['a..b', /empty label/],
  ])('refuses %j with a reason', (input, reason) => {
    let err: unknown;
    try {
      parseCliEntry(input);
    } catch (e) {
      err = e;
    }
    expect(isSchoolgateError(err) && err.code).toBe('SG_ENTRY_INVALID');
    expect((err as Error).message).toMatch(reason);
  });
});
