import { normaliseHost } from './host.js';
import { TargetError } from './target-error.js';
import type { Target } from './types.js';

/**
 * Request targets are parsed here, once, by hand: the WHATWG URL parser keeps trailing dots, accepts
 * userinfo and treats unknown schemes loosely, and Node hands CONNECT authorities over raw. Every host goes
 * through normaliseHost().
 */

const DEFAULT_PORT = { http: 80, https: 443 } as const;
// Space and controls end or corrupt a request line; a backslash is read as '/' by some servers, so a target
// containing one means different things to us and to them. Other unescaped characters (`|`, non-ASCII)
// are sent by real clients and are harmless here.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const FORBIDDEN_URL_CHAR = /[\u0000-\u0020\u007f\\]/;
const ABSOLUTE_URL = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;
const PORT_DIGITS = /^[0-9]{1,5}$/;

/** `http://host[:port]/path?query#fragment` from an absolute-form request line. */
export function parseAbsoluteTarget(url: string): Target {
  if (FORBIDDEN_URL_CHAR.test(url))
    throw new TargetError('bad-url', url, 'the URL contains characters that must be escaped');
  const m = ABSOLUTE_URL.exec(url);
  if (!m) throw new TargetError('bad-url', url, 'the URL is not in absolute form (scheme://host/path)');
  const [, rawScheme = '', authority = '', rest = ''] = m;
  const scheme = rawScheme.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') {
    throw new TargetError('bad-scheme', url, `the scheme ${JSON.stringify(rawScheme)} is not http or https`);
  }
  const { host, hostKind, port } = parseAuthority(authority, url, false);
  return { scheme, host, hostKind, port: port ?? DEFAULT_PORT[scheme], path: normalisePath(rest) };
}

/** `host:port` or `[v6]:port` from a CONNECT request. The port is required: no default to 80 (§1, C02). */
export function parseConnectTarget(authority: string): Target {
  if (FORBIDDEN_URL_CHAR.test(authority)) {
    throw new TargetError('bad-url', authority, 'the authority contains characters that must be escaped');
  }
  if (/[/?#]/.test(authority)) throw new TargetError('bad-url', authority, 'a CONNECT authority has no path');
  const { host, hostKind, port } = parseAuthority(authority, authority, true);
  if (port === undefined) throw new TargetError('no-port', authority, 'CONNECT needs an explicit port');
  return { scheme: 'https', host, hostKind, port, path: '/' };
}

interface Authority {
  host: string;
  hostKind: Target['hostKind'];
  port: number | undefined;
}

function parseAuthority(authority: string, input: string, portRequired: boolean): Authority {
  // RFC 9110 §4.2.4: userinfo in an http(s) URI is an error; `allowed.com@blocked.example` is a bypass.
  if (authority.includes('@'))
    throw new TargetError('userinfo', input, 'the URL carries a user name or password');
  if (authority === '') throw new TargetError('empty', input, 'the URL has no host');

  let hostPart: string;
  let portPart: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1)
      throw new TargetError('bad-ip', input, 'an IPv6 literal is missing its closing bracket');
    hostPart = authority.slice(0, close + 1);
    const after = authority.slice(close + 1);
    if (after !== '' && !after.startsWith(':'))
      throw new TargetError('bad-host', input, 'text follows the IPv6 literal');
    portPart = after === '' ? undefined : after.slice(1);
  } else {
    const colon = authority.indexOf(':');
    if (colon !== authority.lastIndexOf(':')) {
      throw new TargetError('bad-host', input, 'an IPv6 address must be written in brackets');
    }
    hostPart = colon === -1 ? authority : authority.slice(0, colon);
    portPart = colon === -1 ? undefined : authority.slice(colon + 1);
  }

  const { host, kind } = normaliseHost(hostPart);
  return { host, hostKind: kind, port: parsePort(portPart, input, portRequired) };
}

function parsePort(portPart: string | undefined, input: string, portRequired: boolean): number | undefined {
  if (portPart === undefined) return undefined;
  // `http://host:/` is legal (RFC 3986: empty port means the default); `CONNECT host:` is not.
  if (portPart === '') {
    if (portRequired) throw new TargetError('no-port', input, 'CONNECT needs an explicit port');
    return undefined;
  }
  if (!PORT_DIGITS.test(portPart)) throw new TargetError('bad-port', input, 'the port is not a number');
  const port = Number(portPart);
  if (port < 1 || port > 65535)
    throw new TargetError('bad-port', input, 'the port is not between 1 and 65535');
  return port;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * The copy of path and query that URL rules are matched against (the original bytes are forwarded):
 * - the fragment is dropped (it never reaches a server);
 * - percent-escapes of unreserved characters are decoded (`%62` → `b`, `%2E` → `.`), other escapes are kept
 *   with upper-case hex, so `%2F` stays an escaped byte inside one segment, as servers read it; a bare `%`
 *   becomes `%25`, so the result normalises to itself;
 * - duplicate slashes are collapsed and `.`/`..` segments resolved (never above the root);
 * - the query is kept (decoded the same way) because rules such as `youtube.com/watch?v=abc` name it.
 */
export function normalisePath(rawPathAndQuery: string): string {
  const hash = rawPathAndQuery.indexOf('#');
  const noFragment = encodeControls(hash === -1 ? rawPathAndQuery : rawPathAndQuery.slice(0, hash));
  const q = noFragment.indexOf('?');
  const rawPath = q === -1 ? noFragment : noFragment.slice(0, q);
  const query = q === -1 ? undefined : noFragment.slice(q + 1);

  const segments: string[] = [];
  const parts = decodeUnreserved(rawPath).split('/');
  for (const segment of parts) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const last = parts[parts.length - 1];
  // Keep the meaning of a trailing slash (`/dir/` vs `/dir`), including after a dot segment (`/a/b/..`).
  const trailingSlash = segments.length > 0 && (last === '' || last === '.' || last === '..');
  const path = `/${segments.join('/')}${trailingSlash ? '/' : ''}`;
  return query === undefined ? path : `${path}?${decodeUnreserved(query)}`;
}

// A request line cannot carry a raw space or control character, but a list entry can (`site/?a\tb`): written
// as its escape, the entry keeps its meaning when it is written back and trimmed, and matches the request.
function encodeControls(s: string): string {
  return /[\x00-\x20\x7f]/.test(s)
    ? s.replace(/[\x00-\x20\x7f]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
    : s;
}

// A '%' that does not start an escape is written '%25', as a server that decodes once reads it: left bare,
// `%%32%45` would become `%2E` here and `.` on a second pass, so a normalised path (or a list entry written
// back to its file) would change its meaning when read again.
function decodeUnreserved(s: string): string {
  if (!s.includes('%')) return s;
  return s.replace(/%([0-9A-Fa-f]{2})?/g, (escape: string, hex: string | undefined) => {
    if (hex === undefined) return '%25';
    const ch = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : escape.toUpperCase();
  });
}
