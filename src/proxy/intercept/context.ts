/**
 * What an intercepted tunnel's inner requests inherit from the CONNECT that opened it: inner requests carry
 * no Proxy-Authorization and come from a TLS socket, so the client identity is taken from here.
 */
import type { Duplex } from 'node:stream';
import type { Target } from '../../policy/types.js';

export interface TunnelContext {
  /** The CONNECT's audit row id (the tunnel row). */
  tunnelId: string;
  clientIp: string;
  proxyAuthorization: string | undefined;
  /** The canonical CONNECT target. */
  connect: Target;
  /** The SNI name the client sent, normalised, or null. */
  sni: string | null;
}

/** TLS socket (as seen by the inner http.Server) → its tunnel. */
export const tunnelContexts = new WeakMap<Duplex, TunnelContext>();
