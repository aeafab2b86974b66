/**
 * proxy.pac / wpad.dat: tells browsers to send everything through the proxy, except plain host names,
 * loopback, and the listed bypass domains and IPv4 ranges, which go DIRECT.
 *
 * Choices:
 * - There is no "; DIRECT" fallback: if the proxy is down, browsing fails closed instead of going unfiltered.
 * - IPv4 ranges are matched only when the URL's host is itself an IPv4 literal. isInNet() on a host name
 *   would make the browser resolve every host before each request; list intranet names as domains instead.
 * - An IPv6 literal host (it has no dots) is never treated as a plain host name; it is proxied.
 * - Every value is validated (anything else is an SG_CONFIG_INVALID error) and then written with
 *   JSON.stringify plus escaping of '<', '>', U+2028 and U+2029, so no value can leave its JS string.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { SchoolgateError } from '../../errors.js';

export interface PacOptions {
  /** The proxy's host name or IP address as clients reach it. */
  proxyHost: string;
  proxyPort: number;
  /** Domains ('intranet.school.uk', '.school.uk', '*.school.uk' all cover subdomains) or IPv4 CIDRs/addresses. */
  bypass: string[];
}

/** A DNS label; underscores are tolerated because some intranets use them. */
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

function isDomainName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => LABEL.test(label));
}

function invalid(field: string, value: unknown, why: string): SchoolgateError {
  return new SchoolgateError(
    'SG_CONFIG_INVALID',
    `PAC ${field} ${JSON.stringify(value)} is not valid: ${why}.`,
    {
      context: { field, value },
      suggestion:
        field === 'bypass'
          ? "Use a domain name such as 'intranet.school.uk' or an IPv4 range such as '10.0.0.0/8'."
          : 'Use the host name or IP address and port that clients reach the proxy on.',
    },
  );
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

interface Net {
  base: string;
  mask: string;
}

function parseCidr(entry: string): Net | null {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?$/.exec(entry);
  if (!m || !m[1] || !isIPv4(m[1])) return null;
  const bits = m[2] === undefined ? 32 : Number(m[2]);
  if (!Number.isInteger(bits) || bits < 0 || bits > 32) return null;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: intToIpv4((ipv4ToInt(m[1]) & mask) >>> 0), mask: intToIpv4(mask) };
}

/** A JS string literal that cannot close its script context or its string. */
export function jsString(value: string): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function proxyHostToken(host: string): string {
  const h = host.trim().toLowerCase().replace(/\.$/, '');
  const unbracketed = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
  if (isIPv6(unbracketed)) return `[${unbracketed}]`;
  if (isIPv4(h) || isDomainName(h)) return h;
  throw invalid('proxyHost', host, 'expected a host name or IP address');
}

/** One bypass entry's reading: a domain, an IPv4 network, why it is neither, or null (blank). */
function readBypass(raw: unknown): { domain: string } | { net: Net } | { problem: string } | null {
  if (typeof raw !== 'string') return { problem: 'expected a string' };
  const entry = raw.trim().toLowerCase();
  if (entry.length === 0) return null;
  if (/^[\d./]+$/.test(entry)) {
    const net = parseCidr(entry);
    return net ? { net } : { problem: 'not an IPv4 address or CIDR range' };
  }
  if (entry.includes(':')) return { problem: 'IPv6 ranges cannot be bypassed in a PAC file' };
  const domain = entry.replace(/^\*?\./, '').replace(/\.$/, '');
  return isDomainName(domain) ? { domain } : { problem: 'not a domain name' };
}

/** Why a pac.direct entry cannot be used, or null when it can (config validation). */
export function bypassProblem(raw: string): string | null {
  const entry = readBypass(raw);
  return entry !== null && 'problem' in entry ? entry.problem : null;
}

/** Validates options and renders the PAC file text. Throws SG_CONFIG_INVALID on any bad value. */
export function renderPac(options: PacOptions): string {
  const host = proxyHostToken(String(options.proxyHost));
  const port = options.proxyPort;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid('proxyPort', port, 'expected a whole number from 1 to 65535');
  }
  const domains: string[] = [];
  const nets: Net[] = [];
  for (const rawEntry of options.bypass) {
    const entry = readBypass(rawEntry);
    if (entry === null) continue;
    if ('problem' in entry) throw invalid('bypass', rawEntry, entry.problem);
    if ('domain' in entry) {
      if (!domains.includes(entry.domain)) domains.push(entry.domain);
    } else if (!nets.some((n) => n.base === entry.net.base && n.mask === entry.net.mask))
      nets.push(entry.net);
  }

  const proxy = jsString(`PROXY ${host}:${port}`);
  const domainList = domains.map(jsString).join(', ');
  const netList = nets.map((n) => `[${jsString(n.base)}, ${jsString(n.mask)}]`).join(', ');
  return `// schoolgate proxy auto-configuration. Generated; do not edit by hand.
function FindProxyForURL(url, host) {
  var h = String(host).toLowerCase();
  if (h.charAt(0) === "[" && h.charAt(h.length - 1) === "]") h = h.substring(1, h.length - 1);
  if (h.length > 1 && h.charAt(h.length - 1) === ".") h = h.substring(0, h.length - 1);
  var isV6 = h.indexOf(":") >= 0;
  if (isV6) return h === "::1" ? "DIRECT" : ${proxy};
  var isV4 = /^\\d{1,3}(\\.\\d{1,3}){3}$/.test(h);
  if (h === "localhost" || dnsDomainIs(h, ".localhost") || (isV4 && shExpMatch(h, "127.*"))) return "DIRECT";
  if (!isV4 && isPlainHostName(h)) return "DIRECT";
  var domains = [${domainList}];
  for (var i = 0; i < domains.length; i++) {
    if (h === domains[i] || dnsDomainIs(h, "." + domains[i])) return "DIRECT";
  }
  if (isV4) {
    var nets = [${netList}];
    for (var j = 0; j < nets.length; j++) {
      if (isInNet(h, nets[j][0], nets[j][1])) return "DIRECT";
    }
  }
  return ${proxy};
}
`;
}
