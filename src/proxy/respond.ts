/**
 * Writing the proxy's own answers: to an http.ServerResponse, or as raw bytes to a socket (CONNECT,
 * upgrade and parse errors have no ServerResponse).
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { PageAnswer } from '../exchange/types.js';
import { PAGE_HEADERS } from './pages/html.js';

export type { PageAnswer };

/**
 * Sockets we answered and are closing: bytes Node's parser still finds on them (an unread body, say) are
 * not a new request and must not produce another answer or audit row.
 */
export const closingSockets = new WeakSet<Duplex>();

export function sendPage(res: ServerResponse, answer: PageAnswer): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string | number> = {
    ...PAGE_HEADERS,
    ...answer.headers,
    'content-length': Buffer.byteLength(answer.body),
  };
  if (answer.close) {
    headers.connection = 'close';
    closingSockets.add(res.socket as Duplex);
  }
  res.writeHead(answer.status, headers);
  res.end(answer.body);
}

/** A complete HTTP/1.1 response on a raw socket, then the socket is closed. */
export function writeRawAnswer(socket: Duplex, answer: PageAnswer): void {
  closingSockets.add(socket);
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const headers: Record<string, string | number> = {
    ...PAGE_HEADERS,
    ...answer.headers,
    'content-length': Buffer.byteLength(answer.body),
    connection: 'close',
  };
  const head = [`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'Error'}`];
  for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
  socket.end(`${head.join('\r\n')}\r\n\r\n${answer.body}`);
  // Do not wait for a misbehaving client to read: give it a moment, then drop the socket.
  setTimeout(() => socket.destroy(), 2_000).unref();
}
