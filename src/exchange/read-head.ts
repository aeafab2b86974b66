/**
 * Reading a request head into the one canonical target, for every transport that carries HTTP: the
 * absolute-form target on the proxy port, and the origin-form target plus Host inside an intercepted tunnel.
 * Pure: the same head gives the same reading, and the same bad head the same reject reason on every path.
 */
import { isTargetError } from '../policy/target-error.js';
import { parseAbsoluteTarget } from '../policy/target.js';
import type { Target } from '../policy/types.js';
import { rawPathOf } from '../proxy/raw-checks.js';
import { CONTINUE_PATH, REPORT_PATH, UNBLOCK_PATH } from './answers.js';
import { safeHostOf, truncate } from './rows.js';
import type { RequestHead, TunnelContext } from './types.js';

/** A byte outside ASCII, in a string Node decoded from the wire as latin1 (headers, SNI). */
export const NON_ASCII = /[^\p{ASCII}]/u;

export type HeadReading =
  /** Addressed to the proxy itself (its pages): no row. */
  | { kind: 'own-page'; path: string }
  /** Malformed: a 4xx/5xx, a reject row recording what was seen, the connection closed. */
  | { kind: 'reject'; status: number; reason: string; seen: { host: string; path: string } }
  | {
      kind: 'target';
      target: Target;
      /** The address shown on pages. */
      pageUrl: string;
      /** The client's path and query bytes, fragment dropped: what goes upstream. */
      rawPath: string;
      /** The proxy's own actions on the page's origin, or a request to decide. */
      action: 'decide' | 'continue' | 'self-report' | 'unblock';
    };

export interface OwnName {
  /** Is this canonical target the proxy itself (its name or a local name, on its port)? */
  isOwn(target: Target): boolean;
}

/** An absolute-form request on the proxy port (plain HTTP or a WebSocket upgrade). */
export function readProxyHead(head: RequestHead, own: OwnName): HeadReading {
  const raw = head.rawTarget;
  const seen = { host: safeHostOf(raw), path: truncate(raw) };
  if (head.rawFailure) return { kind: 'reject', ...head.rawFailure, seen };
  if (raw.startsWith('/') || raw === '*') return { kind: 'own-page', path: raw };
  // The same refusal as a tunnel's Host (readInnerHead): one reading of a non-ASCII authority everywhere.
  if (NON_ASCII.test(authorityOf(raw)))
    return { kind: 'reject', status: 400, reason: 'bad-request:non-ascii-host', seen };
  let target: Target;
  try {
    target = parseAbsoluteTarget(raw);
  } catch (err) {
    if (!isTargetError(err)) throw err;
    return { kind: 'reject', status: 400, reason: `bad-request:${err.reason}`, seen };
  }
  if (own.isOwn(target)) return { kind: 'own-page', path: rawPathOf(raw) };
  if (target.scheme !== 'http')
    return { kind: 'reject', status: 400, reason: 'bad-request:https-in-http', seen };
  return { kind: 'target', target, pageUrl: raw, rawPath: rawPathOf(raw), action: actionOf(target) };
}

/** The authority of an absolute-form target as sent: between `scheme://` and the first / ? #. */
function authorityOf(raw: string): string {
  return raw.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split(/[/?#]/, 1)[0] ?? '';
}

/** An origin-form request inside an intercepted tunnel: decided on its own Host (fronting, C06/C07). */
export function readInnerHead(head: RequestHead, tunnel: TunnelContext): HeadReading {
  const raw = head.rawTarget;
  const tunnelHost = tunnel.sni ?? tunnel.connect.host;
  const hostHeader = head.hostHeader ?? hostWithPort(tunnelHost, tunnel.connect.port);
  // What the row records of a bad head: the tunnel's name, and the target as sent (never a glued string).
  const seen = { host: tunnelHost, path: truncate(raw) };
  if (head.rawFailure) return { kind: 'reject', ...head.rawFailure, seen };
  if (!raw.startsWith('/')) return { kind: 'reject', status: 400, reason: 'bad-request:inner-target', seen };
  // Node reads header bytes as latin1, so raw UTF-8 (`Host: blоcked.example`) would be decided as another
  // name (`blÐ¾cked.example`) than the client meant. Clients send A-labels (punycode); refuse the rest.
  if (NON_ASCII.test(hostHeader))
    return { kind: 'reject', status: 400, reason: 'bad-request:non-ascii-host', seen };
  // Only what would end the authority needs a look of its own; everything else (userinfo, a backslash,
  // spaces) is read by the same parser as on the proxy port, so a Host means what that authority means.
  if (/[/?#]/.test(hostHeader))
    return { kind: 'reject', status: 400, reason: hostHeaderReason(hostHeader), seen };
  let target: Target;
  try {
    target = parseAbsoluteTarget(`https://${hostHeader}${raw}`);
  } catch (err) {
    if (!isTargetError(err)) throw err;
    return { kind: 'reject', status: 400, reason: `bad-request:${err.reason}`, seen };
  }
  // Without a port in Host the request goes where the CONNECT went.
  if (!/:\d+$/.test(hostHeader)) target = { ...target, port: tunnel.connect.port };
  const hash = raw.indexOf('#');
  return {
    kind: 'target',
    target,
    pageUrl: truncate(`https://${hostHeader}${raw}`),
    rawPath: hash >= 0 ? raw.slice(0, hash) : raw,
    action: actionOf(target),
  };
}

/**
 * Why a Host header that would not stay one authority (a `/`, `?` or `#` in it) is refused: the reason the
 * same bytes get as the authority of an absolute-form target on the proxy port (userinfo, a bad port, ...),
 * so a bad name is refused for the same reason on every path; 'host' when the URL parser would quietly
 * take the rest as a path (`Host: a.example/b`).
 */
function hostHeaderReason(hostHeader: string): string {
  try {
    parseAbsoluteTarget(`https://${hostHeader}/`);
  } catch (err) {
    if (isTargetError(err)) return `bad-request:${err.reason}`;
    throw err;
  }
  return 'bad-request:host';
}

function actionOf(target: Target): 'decide' | 'continue' | 'self-report' | 'unblock' {
  if (target.path.startsWith(CONTINUE_PATH)) return 'continue';
  if (target.path.startsWith(REPORT_PATH)) return 'self-report';
  if (target.path.startsWith(UNBLOCK_PATH)) return 'unblock';
  return 'decide';
}

function hostWithPort(host: string, port: number): string {
  const name = host.includes(':') ? `[${host}]` : host;
  return port === 443 ? name : `${name}:${port}`;
}
