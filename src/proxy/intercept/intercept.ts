/**
 * Terminates the client's TLS with the leaf certificate for the SNI name (or the CONNECT host when the
 * client sent none), then hands the decrypted socket to the inner http.Server. ALPN: http/1.1 only, so
 * every inner request is one Node parses and the pipeline decides.
 */
import type net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { clientTlsCause } from '../../tls/failure-cause.js';
import type { TunnelContext } from '../../exchange/types.js';
import type { TlsEdge } from './tls-edge.js';

/** TLS socket (as seen by the inner http.Server) → its tunnel: inner requests take their client from here. */
export const tunnelContexts = new WeakMap<Duplex, TunnelContext>();

export interface InterceptResult {
  /** Resolves when the client connection ends, with the bytes each way (for the tunnel row's outcome). */
  closed: Promise<{ bytesIn: number; bytesOut: number; handshake: 'ok' | string }>;
}

export async function intercept(
  tlsEdge: TlsEdge,
  socket: Duplex,
  firstFlight: Buffer,
  ctx: TunnelContext,
  opts: { handshakeTimeoutMs: number; idleTimeoutMs: number; logger: Logger },
): Promise<InterceptResult> {
  const name = ctx.sni ?? ctx.connect.host;
  const leaf = await tlsEdge.leaves.get(name);
  // Node's TLSSocket reads what is already buffered on the socket first ("emulate receiving it").
  socket.unshift(firstFlight);
  // With SNI the handshake starts from the shared key's context and takes the host's certificate in the SNI
  // callback (no key parsed per host, leaf.ts); without SNI the host gets a full context.
  const contexts: tls.TLSSocketOptions =
    ctx.sni !== null && tlsEdge.leaves.certOnly
      ? { secureContext: tlsEdge.leaves.keyContext, SNICallback: (_name, cb) => cb(null, leaf.certContext()) }
      : { secureContext: leaf.context() };
  const secure = new tls.TLSSocket(socket as never, {
    isServer: true,
    ...contexts,
    ALPNProtocols: ['http/1.1'],
    requestCert: false,
  });
  tunnelContexts.set(secure, ctx);
  let handshake = 'pending';
  const timer = setTimeout(() => {
    handshake = 'client-timeout';
    secure.destroy();
  }, opts.handshakeTimeoutMs);
  const closed = new Promise<{ bytesIn: number; bytesOut: number; handshake: string }>((resolve) => {
    secure.once('close', () => {
      clearTimeout(timer);
      socket.destroy();
      // The TLS socket shares the TCP handle: the raw socket's counters are the encrypted bytes each way.
      const raw = socket as Partial<net.Socket>;
      resolve({ bytesIn: raw.bytesRead ?? 0, bytesOut: raw.bytesWritten ?? 0, handshake });
    });
  });
  secure.on('error', (err: Error & { code?: string }) => {
    if (handshake === 'pending') {
      handshake = clientTlsCause(err);
      opts.logger.info(
        { id: ctx.tunnelId, host: name, cause: handshake, err: err.message },
        'client TLS handshake failed',
      );
    }
    secure.destroy();
  });
  secure.once('secure', () => {
    clearTimeout(timer);
    handshake = 'ok';
    secure.setTimeout(opts.idleTimeoutMs, () => secure.destroy());
    tlsEdge.inner.emit('connection', secure);
  });
  return { closed };
}
