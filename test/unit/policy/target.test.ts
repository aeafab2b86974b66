import { describe, expect, it } from 'vitest';
import { normalisePath, parseAbsoluteTarget, parseConnectTarget } from '../../../src/policy/target.js';
import { TargetError } from '../../../src/policy/target-error.js';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TargetError) return err.reason;
    throw err;
  }
  return 'no error';
}

describe('absolute-form request targets parse to one canonical target', () => {
  it.each([
    [
      'A01',
      'http://blocked.example/',
      { scheme: 'http', host: 'blocked.example', hostKind: 'domain', port: 80, path: '/' },
    ],
    [
      'A02 case in scheme and host',
      'HTTP://BLOCKED.Example/',
      { scheme: 'http', host: 'blocked.example', port: 80 },
    ],
    ['A03 trailing dot', 'http://blocked.example./', { host: 'blocked.example' }],
    ['A06 ideographic dot', 'http://blocked。example/', { host: 'blocked.example' }],
    ['A06 encoded zero-width', 'http://blo%E2%80%8Bcked.example/', { host: 'blocked.example' }],
    ['A09 decimal IP', 'http://2130706433/', { host: '127.0.0.1', hostKind: 'ipv4' }],
    ['A09 hex IP', 'http://0x7f.1/', { host: '127.0.0.1', hostKind: 'ipv4' }],
    ['A09 octal IP', 'http://0177.0.0.1/', { host: '127.0.0.1', hostKind: 'ipv4' }],
    ['A09 short IP', 'http://127.1/', { host: '127.0.0.1', hostKind: 'ipv4' }],
    [
      'A10 mapped IPv6',
      'http://[::ffff:127.0.0.1]:8080/',
      { host: '127.0.0.1', hostKind: 'ipv4', port: 8080 },
    ],
    ['IPv6 literal', 'http://[::1]/', { host: '::1', hostKind: 'ipv6', port: 80 }],
    ['A12 encoded dot', 'http://blocked%2Eexample/', { host: 'blocked.example' }],
    ['https default port', 'https://blocked.example', { scheme: 'https', port: 443, path: '/' }],
    ['explicit port', 'http://blocked.example:8080/x', { port: 8080, path: '/x' }],
    ['empty port means default', 'http://blocked.example:/x', { port: 80 }],
    ['B13 fragment dropped', 'http://blocked.example/a#frag', { path: '/a' }],
    [
      'B13 dot segments and double slash',
      'http://allowed.com//x/..%2F',
      { host: 'allowed.com', path: '/x/..%2F' },
    ],
    ['query without path', 'http://blocked.example?q=1', { path: '/?q=1' }],
  ] as const)('%s: %s', (_id, url, expected) => {
    expect(parseAbsoluteTarget(url)).toMatchObject(expected);
  });

  it.each([
    ['A04 empty label', 'http://blocked.example../', 'empty-label'],
    ['A11 userinfo', 'http://allowed.com@blocked.example/', 'userinfo'],
    ['userinfo with password', 'http://user:pw@blocked.example/', 'userinfo'],
    ['port 0', 'http://blocked.example:0/', 'bad-port'],
    ['port 65536', 'http://blocked.example:65536/', 'bad-port'],
    ['port with letters', 'http://blocked.example:8o/', 'bad-port'],
    ['port with sign', 'http://blocked.example:+80/', 'bad-port'],
    ['ftp scheme', 'ftp://blocked.example/', 'bad-scheme'],
    ['origin form', '/index.html', 'bad-url'],
    ['no host', 'http:///x', 'empty'],
    ['space', 'http://blocked.example/a b', 'bad-url'],
    ['backslash', 'http://blocked.example\\@allowed.com/', 'bad-url'],
    ['unbracketed IPv6', 'http://::1/', 'bad-host'],
  ] as const)('refuses %s: %s → %s', (_id, url, reason) => {
    expect(reasonOf(() => parseAbsoluteTarget(url))).toBe(reason);
  });
});

describe('CONNECT authorities need a host and an explicit port', () => {
  it.each([
    [
      'C01',
      'blocked.example:443',
      { scheme: 'https', host: 'blocked.example', hostKind: 'domain', port: 443, path: '/' },
    ],
    ['A02 upper case', 'BLOCKED.EXAMPLE:443', { host: 'blocked.example' }],
    ['A03 trailing dot', 'blocked.example.:443', { host: 'blocked.example' }],
    ['A10 mapped IPv6', '[::ffff:7f00:1]:443', { host: '127.0.0.1', hostKind: 'ipv4' }],
    ['A10 IPv6 loopback', '[::1]:443', { host: '::1', hostKind: 'ipv6' }],
    ['A09 decimal IP', '2130706433:443', { host: '127.0.0.1', hostKind: 'ipv4' }],
    ['other port', 'allowed.com:22', { port: 22 }],
  ] as const)('%s: %s', (_id, authority, expected) => {
    expect(parseConnectTarget(authority)).toMatchObject(expected);
  });

  it.each([
    ['C02 no port', 'blocked.example', 'no-port'],
    ['C02 empty port', 'blocked.example:', 'no-port'],
    ['C02 port 0', 'blocked.example:0', 'bad-port'],
    ['C02 port 65536', 'blocked.example:65536', 'bad-port'],
    ['C02 path after port', 'blocked.example:443/x', 'bad-url'],
    ['IPv6 without port', '[::1]', 'no-port'],
    ['unbracketed IPv6', '::1:443', 'bad-host'],
    ['userinfo', 'allowed.com@blocked.example:443', 'userinfo'],
    ['A04 empty label', 'blocked.example..:443', 'empty-label'],
    ['empty', '', 'empty'],
    ['text after IPv6 bracket', '[::1]x:443', 'bad-host'],
  ] as const)('refuses %s: %j → %s', (_id, authority, reason) => {
    expect(reasonOf(() => parseConnectTarget(authority))).toBe(reason);
  });
});

describe('paths are normalised for matching', () => {
  it.each([
    ['', '/'],
    ['/', '/'],
    ['/a/b', '/a/b'],
    ['/a/b/', '/a/b/'],
    ['//a///b', '/a/b'],
    ['/a/./b', '/a/b'],
    ['/a/../b', '/b'],
    ['/../../etc', '/etc'],
    ['/a/b/..', '/a/'],
    ['/a/%2E%2E/b', '/b'],
    ['/%62locked', '/blocked'],
    ['/a%2fb', '/a%2Fb'],
    ['/a%2Fb', '/a%2Fb'],
    ['/%7euser', '/~user'],
    ['/x?u=http://a//b', '/x?u=http://a//b'],
    ['/watch?v=%61bc', '/watch?v=abc'],
    ['/a#frag', '/a'],
    ['/a?q=1#frag', '/a?q=1'],
    ['?q', '/?q'],
    // Found by test/fuzz/target.test.ts: a bare '%' is '%25', so decoding never builds a new escape.
    ['/%%32%45', '/%252E'],
    ['/%5%41', '/%255A'],
    ['/%%32%45%%32%45/x', '/%252E%252E/x'],
    ['/a%', '/a%25'],
    ['/a%zz?q=%', '/a%25zz?q=%25'],
    ['/%252E', '/%252E'],
  ])('%j → %j', (raw, expected) => {
    expect(normalisePath(raw)).toBe(expected);
  });

  it.each(['/%%32%45', '/a%zz', '/%%7e', '/x?%%41'])(
    '%j normalises to a path that normalises to itself',
    (raw) => {
      const once = normalisePath(raw);
      expect(normalisePath(once)).toBe(once);
    },
  );
});
