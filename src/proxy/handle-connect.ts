/**
 * The CONNECT adapter. The exchange decides the CONNECT (src/exchange/connect.ts); this file writes its
 * answer or `200 Connection Established`, reads the client's first flight, and then intercepts (TLS
 * terminated, inner requests handed to the inner server), or pipes a raw tunnel with idle timeouts on both
 * legs, and hands the tunnel's outcome back to the exchange.
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { runConnect, runHttp, tunnelFlight, type ConnectIo, type Exchange } from '../exchange/index.js';
import { readFirstFlight } from '../tls/client-hello.js';
import { exchangeOf, holdUntilClosed, innerExchangeOf, type EdgeContext } from './edge-context.js';
import { headOf } from './handle-http.js';
import { intercept, tunnelContexts } from './intercept/intercept.js';
import { openParentTunnel } from './parent.js';
import { closingSockets, writeRawAnswer } from './respond.js';

export async function handleConnect(
  edge: EdgeContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  edge.stats.requests++;
  socket.on('error', () => socket.destroy());
  holdUntilClosed(edge.held, socket);
  const ex = exchangeOf(edge, req, 'connect');
  const io: ConnectIo<net.Socket> = {
    connect: (address, port, viaParent) =>
      viaParent && edge.parent
        ? openParentTunnel(edge.parent, address, port, edge.config.limits.connectTimeoutMs)
        : connectUpstream(address, port, edge.config.limits.connectTimeoutMs),
  };
  const step = await runConnect(ex, req.url ?? '', io);
  if (step.kind === 'answer') {
    step.discard?.destroy();
    return writeRawAnswer(socket, step.answer);
  }

  // The tunnel ends with its user's access (users disable, remove, passwd): held until it closes.
  if (!edge.users.hold(ex.identity, socket)) {
    step.tunnel.upstream?.destroy();
    return void ex.complete({ status: null, bytesIn: 0, bytesOut: 0 });
  }
  edge.stats.tunnels++;
  edge.stats.openTunnels++;
  const finish = (outcome: { status: number; bytesIn: number; bytesOut: number }) => {
    edge.stats.openTunnels--;
    ex.complete(outcome);
  };
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  const limits = edge.config.limits;
  const flightTimeout = Math.min(edge.config.tls.handshakeTimeoutMs, limits.tunnelIdleTimeoutMs);
  const flight = await readFirstFlight(socket, head, flightTimeout);
  const next = await tunnelFlight(ex, step.tunnel, flight, io);

  // Decided and recorded: from here the CONNECT's exchange only waits for the tunnel's outcome.
  ex.releasePolicy();
  if (next.kind === 'close') {
    edge.stats.openTunnels--;
    step.tunnel.upstream?.destroy();
    return void socket.destroy();
  }
  if (next.kind === 'intercept' && edge.tls) {
    try {
      const { closed } = await intercept(edge.tls, socket, flight.bytes, next.context, {
        handshakeTimeoutMs: edge.config.tls.handshakeTimeoutMs,
        idleTimeoutMs: limits.tunnelIdleTimeoutMs,
        logger: edge.logger,
      });
      const outcome = await closed;
      return finish({
        status: next.context.blocked ? 403 : 200,
        bytesIn: outcome.bytesIn,
        bytesOut: outcome.bytesOut,
      });
    } catch (err) {
      edge.logger.error({ err, id: ex.id }, 'interception failed');
      socket.destroy();
      return finish({ status: 502, bytesIn: flight.bytes.length, bytesOut: 0 });
    }
  }
  if (next.kind !== 'raw') {
    // Interception was planned but the TLS edge is gone: never fall back to a raw tunnel.
    socket.destroy();
    return finish({ status: 502, bytesIn: flight.bytes.length, bytesOut: 0 });
  }
  relay(edge, ex, socket, next.upstream, flight.bytes, finish);
}

/**
 * A CONNECT inside an intercepted tunnel. Node hands it to 'connect' listeners, not to 'request', and with
 * none it drops the connection unanswered and unrecorded. It goes through the inner request pipeline, whose
 * one reading of a target that is not origin-form refuses it (400, bad-request:inner-target, a row).
 */
export async function handleInnerConnect(
  edge: EdgeContext,
  req: IncomingMessage,
  socket: Duplex,
): Promise<void> {
  edge.stats.requests++;
  socket.on('error', () => socket.destroy());
  const tunnel = tunnelContexts.get(req.socket);
  if (!tunnel) return void socket.destroy();
  const ex = innerExchangeOf(edge, req, tunnel, 'inner');
  const step = await runHttp(ex, headOf(req), {
    hasBody: false,
    readBody: () => Promise.resolve('aborted' as const),
    readForm: () => Promise.resolve(null),
    closing: () => closingSockets.add(socket),
  });
  // Only an answer can come of a target that is not origin-form; anything else would be a defect: close.
  if (step.kind === 'answer') return writeRawAnswer(socket, step.answer);
  edge.logger.error({ id: ex.id, step: step.kind }, 'inner CONNECT was not refused; closing');
  socket.destroy();
}

function relay(
  edge: EdgeContext,
  ex: Exchange,
  client: Duplex,
  upstream: net.Socket,
  first: Buffer,
  finish: (outcome: { status: number; bytesIn: number; bytesOut: number }) => void,
): void {
  let bytesIn = first.length;
  let bytesOut = 0;
  let done = false;
  const idle = edge.config.limits.tunnelIdleTimeoutMs;
  const close = () => {
    client.destroy();
    upstream.destroy();
    if (done) return;
    done = true;
    finish({ status: 200, bytesIn, bytesOut });
  };
  client.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
  upstream.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
  for (const leg of [client, upstream] as const) {
    leg.on('error', close);
    leg.on('close', close);
  }
  (client as net.Socket).setTimeout?.(idle, close);
  upstream.setTimeout(idle, close);
  if (first.length > 0) upstream.write(first);
  client.pipe(upstream);
  upstream.pipe(client);
  client.resume();
  edge.logger.debug({ id: ex.id }, 'raw tunnel open');
}

/** net.connect has no connect timeout of its own. */
function connectUpstream(
  address: string,
  port: number,
  timeoutMs: number,
): Promise<net.Socket | 'timeout' | 'error'> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timeout');
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      // Until the tunnel takes over (after the audit commit), an upstream reset must not crash us.
      socket.on('error', () => socket.destroy());
      resolve(socket);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('error');
    });
  });
}
