/**
 * Checks Node's parser does not make: Node silently keeps the first of two Host headers (RFC 9112 §3.2
 * says 400), and accepts HTTP/2.0 and 0.9 request lines.
 */
import type { IncomingMessage } from 'node:http';

export type RawCheckFailure = { status: 400 | 505; reason: string };

export function checkRawRequest(req: IncomingMessage): RawCheckFailure | null {
  if (req.httpVersionMajor !== 1) return { status: 505, reason: 'bad-request:http-version' };
  let hosts = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    if (name === 'host' && ++hosts > 1) return { status: 400, reason: 'bad-request:duplicate-host' };
  }
  return null;
}

/** The path and query exactly as the client sent them in an absolute-form target (fragment dropped). */
export function rawPathOf(absoluteUrl: string): string {
  const afterScheme = absoluteUrl.indexOf('//');
  const rest = afterScheme < 0 ? absoluteUrl : absoluteUrl.slice(afterScheme + 2);
  const start = rest.search(/[/?#]/);
  let pathAndQuery = start < 0 ? '' : rest.slice(start);
  const hash = pathAndQuery.indexOf('#');
  if (hash >= 0) pathAndQuery = pathAndQuery.slice(0, hash);
  if (!pathAndQuery.startsWith('/')) pathAndQuery = `/${pathAndQuery}`;
  return pathAndQuery;
}

/** The Host header value for the canonical target. */
export function authorityOf(target: {
  host: string;
  hostKind: string;
  port: number;
  scheme: string;
}): string {
  const host = target.hostKind === 'ipv6' ? `[${target.host}]` : target.host;
  const defaultPort = target.scheme === 'https' ? 443 : 80;
  return target.port === defaultPort ? host : `${host}:${target.port}`;
}
