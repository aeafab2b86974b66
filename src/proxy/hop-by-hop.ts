/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) are for one connection only: never forwarded. Proxy credentials
 * are for us, never for the origin.
 */
import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'upgrade',
];

/** Removes hop-by-hop headers (and any the Connection header lists) in place. Keeps transfer-encoding:
 * Node re-frames the forwarded body itself. */
export function stripHopByHop(headers: IncomingHttpHeaders, keep: readonly string[] = []): void {
  const listed = String(headers.connection ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t && t !== 'transfer-encoding' && t !== 'host');
  for (const name of [...HOP_BY_HOP, ...listed]) if (!keep.includes(name)) delete headers[name];
}
