import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';
import { TargetError } from './target-error.js';
import type { HostKind } from './types.js';

/**
 * One canonical host for decide(), the audit row and the upstream connect (hostile-inputs §1 design rule).
 *
 * - domains: UTS-46 ToASCII (lowercase, fullwidth/ideographic dots and zero-width characters mapped,
 *   IDN → punycode), one trailing dot stripped, empty labels refused, labels limited to [a-z0-9_-];
 * - IPv4 in every WHATWG form (2130706433, 0x7f.1, 0177.0.0.1, 127.1) → dotted quad;
 * - IPv6 with or without brackets → RFC 5952 text; IPv4-mapped IPv6 (::ffff:7f00:1) → its IPv4 form.
 *
 * A mixed-script name such as `blоcked.example` (Cyrillic о) keeps its own punycode
 * (`xn--blcked-xqf.example`), so it never equals the Latin name; decide() also looks it up under its
 * Latin reading and blocks mixed-script labels (lookalike.ts).
 */
export interface NormalisedHost {
  host: string;
  kind: HostKind;
}

const MAX_RAW_LENGTH = 1024;
const MAX_HOST_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

// Raw input may not carry whitespace or control characters: WHATWG silently drops tabs and newlines
// ("a\tb" → "ab"), which would let a client smuggle a different name past a raw-string check.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f-\u009f]/;
// The characters of a label after ToASCII: [a-z0-9_-]. '_' is not valid in DNS host names but is common
// in real lists and SNI.
const LABEL_CHAR = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyz0123456789_-') LABEL_CHAR[c.charCodeAt(0)] = 1;
// Plain lowercase ASCII whose last label starts with a letter: ToASCII would return it unchanged and the
// WHATWG IPv4 parser would not touch it, so the (slow) UTS-46 call can be skipped. Any 'xn--' goes the slow
// way so bad punycode is still refused.
const FAST_PATH = /^(?:[a-z0-9_-]+\.)*[a-z_-][a-z0-9_-]*\.?$/;
const DOTTED_QUAD = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

export function normaliseHost(raw: string): NormalisedHost {
  if (raw.length === 0) throw new TargetError('empty', raw, 'the host is empty');
  if (raw.length > MAX_RAW_LENGTH) throw new TargetError('too-long', raw, 'the host is too long');
  if (CONTROL_OR_SPACE.test(raw))
    throw new TargetError('bad-host', raw, 'the host contains spaces or control characters');

  if (raw.startsWith('[')) {
    if (!raw.endsWith(']'))
      throw new TargetError('bad-ip', raw, 'an IPv6 literal is missing its closing bracket');
    return normaliseIpv6(raw.slice(1, -1), raw);
  }
  // Unbracketed IPv6 only reaches here from list entries and SNI: authorities have already split off the port.
  if (raw.includes(':')) return normaliseIpv6(raw, raw);

  if (FAST_PATH.test(raw) && !raw.includes('xn--')) return finishDomain(raw, raw);

  const decoded = percentDecode(raw);
  const ascii = domainToASCII(decoded);
  if (ascii === '') {
    const lastLabel = decoded.replace(/\.$/, '').split('.').pop() ?? '';
    if (/^(?:\d|0x)/i.test(lastLabel))
      throw new TargetError('bad-ip', raw, 'the host is not a valid IPv4 address');
    throw new TargetError('bad-idn', raw, 'the host is not a valid internationalised domain name');
  }
  // The WHATWG host parser (behind domainToASCII) has already turned every IPv4 form into a dotted quad.
  if (DOTTED_QUAD.test(ascii)) return { host: ascii, kind: 'ipv4' };
  return finishDomain(ascii, raw);
}

function finishDomain(ascii: string, raw: string): NormalisedHost {
  // Strip exactly one trailing dot: `blocked.example.` is the same name; `blocked.example..` is not a name.
  const host = ascii.endsWith('.') ? ascii.slice(0, -1) : ascii;
  if (host.length === 0) throw new TargetError('empty-label', raw, 'the host has an empty label');
  if (host.length > MAX_HOST_LENGTH)
    throw new TargetError('too-long', raw, 'the host is longer than 253 characters');
  // One pass over the labels without splitting: every list line and request host comes through here.
  for (let start = 0; start <= host.length;) {
    const dot = host.indexOf('.', start);
    const end = dot === -1 ? host.length : dot;
    if (end === start) throw new TargetError('empty-label', raw, 'the host has an empty label');
    if (end - start > MAX_LABEL_LENGTH)
      throw new TargetError('too-long', raw, 'a label is longer than 63 characters');
    for (let i = start; i < end; i++) {
      if (LABEL_CHAR[host.charCodeAt(i)] !== 1) {
        const label = host.slice(start, end);
        throw new TargetError(
          'bad-host',
          raw,
          `the label ${JSON.stringify(label)} has characters a host name may not have`,
        );
      }
    }
    start = end + 1;
  }
  return { host, kind: 'domain' };
}

function normaliseIpv6(inner: string, raw: string): NormalisedHost {
  // Zone ids (fe80::1%eth0) name an interface of this machine: never a valid proxy target.
  if (inner.includes('%') || !ipaddr.IPv6.isValid(inner)) {
    throw new TargetError('bad-ip', raw, 'the host is not a valid IPv6 address');
  }
  const addr = ipaddr.IPv6.parse(inner);
  // ::ffff:7f00:1 is 127.0.0.1: decide and log it as the IPv4 address it reaches.
  if (addr.isIPv4MappedAddress()) return { host: addr.toIPv4Address().toString(), kind: 'ipv4' };
  return { host: addr.toRFC5952String(), kind: 'ipv6' };
}

/**
 * `blocked%2Eexample` is `blocked.example`. Decode once, as UTF-8; a '%' left after decoding means the
 * input was double-encoded, which no honest client sends, so it is refused rather than decoded again.
 */
function percentDecode(raw: string): string {
  if (!raw.includes('%')) return raw;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new TargetError('bad-percent', raw, 'the host has a malformed percent-escape');
  }
  if (decoded.includes('%')) throw new TargetError('bad-percent', raw, 'the host is percent-encoded twice');
  if (CONTROL_OR_SPACE.test(decoded)) {
    throw new TargetError('bad-host', raw, 'the host contains encoded spaces or control characters');
  }
  return decoded;
}
