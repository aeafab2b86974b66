import { describe, expect, it } from 'vitest';
import { normaliseHost } from '../../../src/policy/host.js';
import { TargetError } from '../../../src/policy/target-error.js';

describe('normaliseHost gives one canonical host for every spelling', () => {
  it.each([
    // [id, input, host, kind]
    ['A01 plain name', 'blocked.example', 'blocked.example', 'domain'],
    ['A02 upper and mixed case', 'BLOCKED.Example', 'blocked.example', 'domain'],
    ['A03 one trailing dot', 'blocked.example.', 'blocked.example', 'domain'],
    ['A06 fullwidth letters', 'ｂｌｏｃｋｅｄ.example', 'blocked.example', 'domain'],
    ['A06 ideographic full stop', 'blocked。example', 'blocked.example', 'domain'],
    ['A06 fullwidth full stop', 'blocked．example', 'blocked.example', 'domain'],
    ['A06 halfwidth ideographic full stop', 'blocked｡example', 'blocked.example', 'domain'],
    ['A06 zero-width space', 'blo\u200bcked.example', 'blocked.example', 'domain'],
    ['A06 percent-encoded zero-width space', 'blo%E2%80%8Bcked.example', 'blocked.example', 'domain'],
    ['A06 soft hyphen', 'blo\u00adcked.example', 'blocked.example', 'domain'],
    ['A07 IDN to punycode', 'bücher.example', 'xn--bcher-kva.example', 'domain'],
    ['A07 upper-case IDN', 'BÜCHER.EXAMPLE', 'xn--bcher-kva.example', 'domain'],
    ['A07 punycode stays punycode', 'xn--bcher-kva.example', 'xn--bcher-kva.example', 'domain'],
    ['A08 Cyrillic o stays its own punycode', 'blоcked.example', 'xn--blcked-xqf.example', 'domain'],
    ['A09 decimal IPv4', '2130706433', '127.0.0.1', 'ipv4'],
    ['A09 hex IPv4', '0x7f.1', '127.0.0.1', 'ipv4'],
    ['A09 octal IPv4', '0177.0.0.1', '127.0.0.1', 'ipv4'],
    ['A09 short IPv4', '127.1', '127.0.0.1', 'ipv4'],
    ['A09 dotted quad', '127.0.0.1', '127.0.0.1', 'ipv4'],
    ['A09 IPv4 with trailing dot', '127.0.0.1.', '127.0.0.1', 'ipv4'],
    ['A09 fullwidth digits', '１２７.０.０.１', '127.0.0.1', 'ipv4'],
    ['A10 IPv4-mapped IPv6 (hex)', '[::ffff:7f00:1]', '127.0.0.1', 'ipv4'],
    ['A10 IPv4-mapped IPv6 (dotted)', '[::ffff:127.0.0.1]', '127.0.0.1', 'ipv4'],
    ['A10 IPv6 loopback in brackets', '[::1]', '::1', 'ipv6'],
    ['A10 IPv6 without brackets', '::1', '::1', 'ipv6'],
    ['IPv6 upper case and long form', '[2001:DB8:0:0:0:0:0:1]', '2001:db8::1', 'ipv6'],
    ['A12 percent-encoded dot', 'blocked%2Eexample', 'blocked.example', 'domain'],
    ['A12 percent-encoded letters', '%62locked.example', 'blocked.example', 'domain'],
    ['underscore (real lists and SNI have it)', 'a_b.example', 'a_b.example', 'domain'],
    ['single label', 'localhost', 'localhost', 'domain'],
  ] as const)('%s: %j → %s', (_id, input, host, kind) => {
    expect(normaliseHost(input)).toEqual({ host, kind });
  });
});

describe('normaliseHost refuses hosts that are not names', () => {
  it.each([
    ['A04 two trailing dots', 'blocked.example..', 'empty-label'],
    ['A04 empty label inside', 'a..b', 'empty-label'],
    ['leading dot', '.blocked.example', 'empty-label'],
    ['only a dot', '.', 'empty-label'],
    ['empty', '', 'empty'],
    ['space', 'blocked example', 'bad-host'],
    ['tab (WHATWG would drop it)', 'blocked\t.example', 'bad-host'],
    ['NUL', 'blocked\u0000.example', 'bad-host'],
    ['encoded NUL', 'blocked%00.example', 'bad-host'],
    ['asterisk', '*.example', 'bad-host'],
    ['other punctuation', 'a!b.example', 'bad-host'],
    ['zero-width joiner (UTS-46 refuses it)', 'blo\u200dcked.example', 'bad-idn'],
    ['invalid punycode', 'xn--a.example', 'bad-idn'],
    ['malformed percent-escape', 'blocked%2.example', 'bad-percent'],
    ['double percent-encoding', 'blocked%252Eexample', 'bad-percent'],
    ['IPv4 octet out of range', '256.0.0.1', 'bad-ip'],
    ['five-part IPv4', '1.2.3.4.5', 'bad-ip'],
    ['numeric last label', 'example.123', 'bad-ip'],
    ['IPv6 zone id', '[fe80::1%eth0]', 'bad-ip'],
    ['IPv6 missing bracket', '[::1', 'bad-ip'],
    ['not IPv6', '[blocked.example]', 'bad-ip'],
    ['label over 63 characters', `${'a'.repeat(64)}.example`, 'too-long'],
    ['name over 253 characters', `${'a.'.repeat(127)}example`, 'too-long'],
    ['huge input', 'a'.repeat(5000), 'too-long'],
  ] as const)('%s: %j → %s', (_id, input, reason) => {
    expect(() => normaliseHost(input)).toThrow(TargetError);
    try {
      normaliseHost(input);
    } catch (err) {
      expect((err as TargetError).reason).toBe(reason);
      expect((err as TargetError).code).toBe('SG_TARGET_INVALID');
    }
  });
});
