/**
 * The typed-array host table behind the list index: exact keys, parent-domain walks on label boundaries,
 * growth through many rehashes, and refusal of keys it cannot hold.
 */
import { describe, expect, it } from 'vitest';
import { HostTable } from '../../../src/policy/host-table.js';

function table(keys: string[]): HostTable {
  const t = new HostTable();
  keys.forEach((k, i) => t.intern(k, i + 100));
  return t;
}

/** The matching suffixes of `host` as [key, value] pairs, in the order suffixes() reports them. */
function walk(t: HostTable, host: string): [string, number][] {
  const out: number[] = [];
  t.suffixes(host, out);
  const pairs: [string, number][] = [];
  for (let i = 0; i < out.length; i += 2) pairs.push([host.slice(out[i + 1]), t.value(out[i]!)]);
  return pairs;
}

describe('HostTable', () => {
  it('interns a key once, with the value it was first given', () => {
    const t = new HostTable();
    const a = t.intern('example.com', 1);
    expect(t.intern('example.com', 2)).toBe(a);
    expect(t.value(a)).toBe(1);
    const b = t.intern('example.org', 3);
    expect(b).not.toBe(a);
    expect(t.size).toBe(2);
  });

  it('keeps any 32-bit value', () => {
    const t = new HostTable();
    const e = t.intern('a.example', 0);
    for (const v of [0, 1, 0xff, 0x100, 0xffff, 0x1_0000, 0x7fff_ffff, 0xffff_ffff]) {
      t.setValue(e, v);
      expect(t.value(e)).toBe(v);
    }
  });

  it('finds exact keys only', () => {
    const t = table(['example.com', 'b.example.org']);
    expect(t.find('example.com')).not.toBe(-1);
    expect(t.find('ample.com')).toBe(-1);
    expect(t.find('www.example.com')).toBe(-1);
    expect(t.find('example.org')).toBe(-1);
    expect(t.find('')).toBe(-1);
  });

  it.each([
    ['m.facebook.com', [['facebook.com', 100]]],
    ['facebook.com', [['facebook.com', 100]]],
    ['notfacebook.com', []],
    [
      'a.b.facebook.com',
      [
        ['b.facebook.com', 102],
        ['facebook.com', 100],
      ],
    ],
    ['x.zip', [['zip', 101]]],
    ['zip', [['zip', 101]]],
    ['zip.com', []],
    ['', []],
  ] as const)('walks the parents of %j on label boundaries, most specific first', (host, expected) => {
    const t = table(['facebook.com', 'zip', 'b.facebook.com', 'ook.com', 'book.com']);
    expect(walk(t, host)).toEqual(expected);
  });

  it('appends to what the caller already collected', () => {
    const t = table(['example', 'a.example']);
    const out = [7, 7];
    t.suffixes('b.a.example', out);
    expect(out.slice(0, 2)).toEqual([7, 7]);
    expect(out.length).toBe(6);
  });

  it('keeps every key through many rehashes, and after compact()', () => {
    const keys = Array.from({ length: 50_000 }, (_, i) => `host${i}.d${i % 97}.example`);
    const t = table(keys);
    expect(t.size).toBe(keys.length);
    const check = () => {
      keys.forEach((k, i) => expect(t.value(t.find(k))).toBe(i + 100));
      for (let i = 0; i < 1000; i++) expect(t.find(`host${i}.d${(i + 1) % 97}.example`)).toBe(-1);
    };
    check();
    t.compact();
    check();
    expect(walk(t, 'www.host5.d5.example')).toEqual([['host5.d5.example', 105]]);
  });

  it('refuses keys that are not ASCII or longer than a host can be', () => {
    const t = new HostTable();
    expect(() => t.intern('bücher.example', 1)).toThrow(/not ASCII/);
    expect(() => t.intern(`${'a'.repeat(256)}`, 1)).toThrow(/longer/);
    expect(t.size).toBe(0);
    t.intern('ok.example', 1);
    expect(t.find('ok.example')).not.toBe(-1);
  });
});
