/**
 * The HTTP adapter: absolute-form requests on the proxy port and the inner (origin-form) requests of an
 * intercepted tunnel. It reads the head and, when asked, the body or a form; the exchange decides, records
 * and says what to answer; this file writes the answer or forwards (forward.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { runHttp, type Exchange, type HttpIo, type RequestHead } from '../exchange/index.js';
import { exchangeOf, firstHeader, innerExchangeOf, type EdgeContext } from './edge-context.js';
import { forward } from './forward.js';
import { tunnelContexts } from './intercept/intercept.js';
import { serveOwnPage } from './own-pages.js';
import { checkRawRequest } from './raw-checks.js';
import { hasBody, readBody, type Body } from './request-body.js';
import { closingSockets, sendPage } from './respond.js';

const MAX_FORM_BYTES = 16 * 1024;

/** Socket → the allowed exchange in flight on it: a later parse error completes that row, not a new one. */
export const inflight = new WeakMap<Duplex, Exchange>();

export async function handleHttpRequest(
  edge: EdgeContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  // A request pipelined behind an answer that closes the connection is never read: nothing decides it,
  // nothing records it (it would be a row for an answer never sent).
  if (closingSockets.has(req.socket)) return void req.socket.destroy();
  edge.stats.requests++;
  const tunnel = tunnelContexts.get(req.socket);
  const ex = tunnel ? innerExchangeOf(edge, req, tunnel, 'inner') : exchangeOf(edge, req, 'http');
  const io: HttpIo<Body> = {
    hasBody: hasBody(req),
    readBody: () => readBody(req, res),
    readForm: () => readForm(req),
    closing: () => closingSockets.add(req.socket),
  };
  const step = await runHttp(ex, headOf(req), io);
  // A keep-alive connection (or the inspected tunnel carrying it) ends with its user's access.
  if (!edge.users.hold(ex.identity, req.socket))
    return void ex.complete({ status: null, bytesIn: 0, bytesOut: 0 });
  switch (step.kind) {
    case 'own-page':
      return serveOwnPage(edge, req, res, step.path);
    case 'answer':
      return sendPage(res, step.answer);
    case 'aborted':
      return;
    case 'forward':
      inflight.set(req.socket, ex);
      return forward(edge, ex, req, res, step);
  }
}

export function headOf(req: IncomingMessage): RequestHead {
  return {
    rawTarget: req.url ?? '',
    hostHeader: firstHeader(req, 'host'),
    rawFailure: checkRawRequest(req),
    contentType: firstHeader(req, 'content-type'),
  };
}

export async function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return null;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
