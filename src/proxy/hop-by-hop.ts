/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) are for one connection only: never forwarded. Proxy credentials
 * are for us, never for the origin.
 */
import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'upgrade',
]);

/**
 * A copy of the headers without the hop-by-hop ones (and any the Connection header lists). Keeps
 * transfer-encoding: Node re-frames the forwarded body itself. A copy built from the names kept, not a copy
 * with names deleted: deleting turned every request's header object into a slow dictionary.
 */
export function withoutHopByHop(
  headers: IncomingHttpHeaders,
  keep: readonly string[] = [],
): IncomingHttpHeaders {
  const listed = headers.connection === undefined ? null : connectionTokens(headers.connection);
  const out: IncomingHttpHeaders = {};
  for (const name in headers) {
    if ((HOP_BY_HOP.has(name) || listed?.has(name)) && !keep.includes(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

/** The same, in place (scripts/bench-forward.ts's forwarders, which get the headers object to change). */
export function stripHopByHop(headers: IncomingHttpHeaders, keep: readonly string[] = []): void {
  const listed = headers.connection === undefined ? [] : connectionTokens(headers.connection);
  for (const name of [...HOP_BY_HOP, ...listed]) if (!keep.includes(name)) delete headers[name];
}

function connectionTokens(value: string): Set<string> {
  const tokens = new Set<string>();
  for (const t of value.split(',')) {
    const token = t.trim().toLowerCase();
    if (token && token !== 'transfer-encoding' && token !== 'host') tokens.add(token);
  }
  return tokens;
}
