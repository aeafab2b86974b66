/**
 * Checks Node's parser does not make: Node silently keeps the first of two Host headers (RFC 9112 §3.2
 * says 400), and accepts HTTP/2.0 and 0.9 request lines.
 */
import type { IncomingMessage } from 'node:http';

export type RawCheckFailure = { status: 400 | 431 | 505; reason: string };

/** Node drops headers past server.maxHeadersCount silently; the server sets it one above this and we refuse. */
export const MAX_HEADERS = 200;

export function checkRawRequest(req: IncomingMessage): RawCheckFailure | null {
  if (req.httpVersionMajor !== 1) return { status: 505, reason: 'bad-request:http-version' };
  if (req.rawHeaders.length / 2 > MAX_HEADERS) return { status: 431, reason: 'bad-request:too-many-headers' };
  let hosts = 0;
  let transferEncodings = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    if (name === 'host' && ++hosts > 1) return { status: 400, reason: 'bad-request:duplicate-host' };
    if (name === 'transfer-encoding') {
      // Only a lone 'chunked' is unambiguous; Node accepts ',chunked' and the like (smuggling risk).
      const value = req.rawHeaders[i + 1]!.trim().toLowerCase();
      if (++transferEncodings > 1 || value !== 'chunked')
        return { status: 400, reason: 'bad-request:transfer-encoding' };
    }
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
