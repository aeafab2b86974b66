/**
 * The WebSocket adapter, on the proxy port and inside intercepted tunnels. Node sends every request with an
 * Upgrade header here instead of to the 'request' handler, so the exchange must run here too or upgrades
 * would bypass the filter. It writes the exchange's answer, or relays to the checked address.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { runUpgrade } from '../exchange/index.js';
import { exchangeOf, holdUntilClosed, innerExchangeOf, type EdgeContext } from './edge-context.js';
import { headOf } from './handle-http.js';
import { relayUpgrade } from './forward.js';
import { tunnelContexts } from './intercept/intercept.js';
import { writeRawAnswer } from './respond.js';

export async function handleUpgrade(
  edge: EdgeContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  edge.stats.requests++;
  socket.on('error', () => socket.destroy());
  holdUntilClosed(edge.held, socket);
  const tunnel = tunnelContexts.get(req.socket);
  const ex = tunnel ? innerExchangeOf(edge, req, tunnel, 'inner-upgrade') : exchangeOf(edge, req, 'upgrade');
  const step = await runUpgrade(ex, {
    ...headOf(req),
    upgrade: String(req.headers.upgrade ?? '').toLowerCase(),
  });
  if (step.kind === 'answer') return writeRawAnswer(socket, step.answer);
  if (!edge.users.hold(ex.identity, socket))
    return void ex.complete({ status: null, bytesIn: 0, bytesOut: 0 });

  socket.once('close', () => ex.complete({ status: 101, bytesIn: 0, bytesOut: 0 }));
  relayUpgrade(edge, ex, req, socket, head, step, tunnel !== undefined && edge.tls !== null);
}
