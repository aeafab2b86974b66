/**
 * Forwarding an allowed request to the address the exchange checked, with Node's own http/https client and
 * a keep-alive agent: the client's own path bytes (after any SafeSearch rewrite), a Host rebuilt from the
 * canonical target, hop-by-hop headers stripped both ways, and the outcome (status, bytes) handed back to
 * the exchange when the response ends. (Measured with scripts/bench-forward.ts: node:http used 0.55–0.8×
 * http-proxy's CPU per request, and needs none of the hooks that repaired http-proxy's path joining and
 * Connection handling.)
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { SELFTEST_HEADER } from '../exchange/selftest-probes.js';
import type { Exchange, HttpStep, UpgradeStep } from '../exchange/index.js';
import { errorBody } from '../exchange/answers.js';
import type { Target } from '../policy/types.js';
import { refuseUpstreamCertificate } from '../exchange/upstream-refusal.js';
import { upstreamTlsCause, upstreamTlsDetail, type UpstreamTlsCause } from '../tls/failure-cause.js';
import type { EdgeContext } from './edge-context.js';
import { inflight } from './handle-http.js';
import { withoutHopByHop } from './hop-by-hop.js';
import { authority, viaParentConnection, type ParentProxy } from './parent.js';
import { authorityOf } from './raw-checks.js';
import type { Body } from './request-body.js';
import { sendPage, writeRawAnswer, type PageAnswer } from './respond.js';

type Forward = Extract<HttpStep<Body>, { kind: 'forward' }>;
type Relay = Extract<UpgradeStep, { kind: 'relay' }>;

class UpstreamTimeout extends Error {
  readonly code = 'ETIMEDOUT';
}

export function forward(
  edge: EdgeContext,
  ex: Exchange,
  req: IncomingMessage,
  res: ServerResponse,
  step: Forward,
): void {
  const { target, body } = step;
  const secure = target.scheme === 'https' && edge.tls !== null;
  let status: number | null = null;
  let bytesIn = body.bytes;
  let bytesOut = 0;
  if (body.streaming) req.on('data', (chunk: Buffer) => (bytesIn += chunk.length));

  const headers = upstreamHeaders(req.headers, target, step.headers);
  delete headers.expect; // answered by us (readBody) already
  if (step.replaceBody) {
    // A form the exchange rewrote (SafeSearch forced in it): its own length, never the client's framing.
    delete headers['transfer-encoding'];
    headers['content-length'] = String(step.replaceBody.length);
  }
  const upstream = upstreamRequest(edge, req, step, headers, secure, edge.agent);
  upstream.setTimeout(edge.config.limits.upstreamTimeoutMs, () => upstream.destroy(new UpstreamTimeout()));

  const done = () => {
    if (inflight.get(req.socket) === ex) inflight.delete(req.socket);
    ex.complete({ status, bytesIn, bytesOut });
  };
  res.once('finish', done);
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy(); // the client went away: stop fetching for it
    done();
  });

  upstream.on('response', (answer) => {
    status = answer.statusCode ?? null;
    const out = withoutHopByHop(answer.headers);
    // The client's own connection decides keep-alive (its Connection header was not forwarded).
    out.connection =
      (res as { shouldKeepAlive?: boolean }).shouldKeepAlive === false ? 'close' : 'keep-alive';
    if (req.httpVersion === '1.0') delete out['transfer-encoding'];
    answer.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
    answer.on('error', () => res.destroy());
    res.writeHead(status ?? 502, answer.statusMessage, out);
    ex.releasePolicy(); // a download may stream for hours: only its outcome is left to write
    answer.pipe(res);
  });
  upstream.on('error', (err: Error & { code?: string }) => {
    const cause = secure ? upstreamTlsCause(err) : null;
    const failed = err instanceof UpstreamTimeout ? 504 : 502;
    status = failed;
    if (res.headersSent || res.destroyed) return void res.destroy();
    if (cause)
      return void refuseTls(ex, step, err, cause, res, (answer) => {
        status = answer.status;
        sendPage(res, answer);
      });
    edge.logger.debug({ id: ex.id, err: err.message, code: err.code }, 'upstream error');
    const page = { url: step.pageUrl, host: target.host, ...ex.pageTime(), reference: ex.id };
    sendPage(res, { status: failed, close: true, body: errorBody(failed, page) });
  });
  if (step.replaceBody) upstream.end(step.replaceBody);
  else (body.stream ?? req).pipe(upstream);
}

/**
 * A WebSocket upgrade to the checked address: the client's request (hop-by-hop headers stripped, Upgrade
 * and Connection kept), then the two sockets piped. An origin that refuses the upgrade gets its answer
 * relayed and the connection closed.
 */
export function relayUpgrade(
  edge: EdgeContext,
  ex: Exchange,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  step: Relay,
  secure: boolean,
): void {
  const { target } = step;
  const headers = upstreamHeaders(req.headers, target, {}, ['upgrade', 'connection']);
  const upstream = upstreamRequest(edge, req, step, headers, secure, false);
  upstream.setTimeout(edge.config.limits.upstreamTimeoutMs, () => upstream.destroy(new UpstreamTimeout()));
  upstream.on('error', (err: Error & { code?: string }) => {
    const cause = secure ? upstreamTlsCause(err) : null;
    if (!cause) return void socket.destroy();
    const pageUrl = `https://${authorityOf(target)}${step.rawPath}`;
    refuseTls(ex, { target, pageUrl }, err, cause, socket, (answer) => {
      ex.complete({ status: answer.status, bytesIn: 0, bytesOut: 0 });
      writeRawAnswer(socket, answer);
    });
  });
  socket.on('close', () => upstream.destroy());
  upstream.on('upgrade', (answer, upstreamSocket, upstreamHead) => {
    upstream.setTimeout(0);
    ex.releasePolicy(); // a WebSocket may stay open for hours: only its outcome is left to write
    upstreamSocket.on('error', () => socket.destroy());
    socket.on('error', () => upstreamSocket.destroy());
    socket.on('close', () => upstreamSocket.destroy());
    upstreamSocket.on('close', () => socket.destroy());
    socket.write(responseHead(answer));
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (head.length > 0) upstreamSocket.write(head);
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
  });
  upstream.on('response', (answer) => {
    const out = { ...answer.headers, connection: 'close' };
    socket.write(responseHead({ ...answer, headers: out } as IncomingMessage));
    answer.pipe(socket);
  });
  upstream.end();
}

/**
 * An origin whose TLS failed (its certificate refused): the refusal's own row, then its page, unless the
 * client went away while the row was committed.
 */
function refuseTls(
  ex: Exchange,
  step: { target: Target; pageUrl: string },
  err: Error & { code?: string },
  cause: UpstreamTlsCause,
  client: { readonly destroyed: boolean; destroy(): void },
  answer: (page: PageAnswer) => void,
): void {
  refuseUpstreamCertificate(ex, step.target, cause, upstreamTlsDetail(err), step.pageUrl).then(
    (page) => {
      if (!client.destroyed) answer(page);
    },
    () => client.destroy(),
  );
}

/** The request to the checked address, with the client's path bytes; TLS verified against the checked name. */
function upstreamRequest(
  edge: EdgeContext,
  req: IncomingMessage,
  step: { target: Target; address: string; rawPath: string; viaParent?: boolean },
  headers: IncomingHttpHeaders,
  secure: boolean,
  plainAgent: http.Agent | false,
): http.ClientRequest {
  if (step.viaParent && edge.parent) return parentRequest(edge, edge.parent, req, step, headers, secure);
  return (secure ? https : http).request({
    host: step.address,
    port: step.target.port,
    method: req.method,
    path: step.rawPath,
    headers,
    agent: secure ? edge.tls!.upstreamAgent : plainAgent,
    // Certificates are checked against the name the policy decided on, never the address.
    ...(secure && step.target.hostKind === 'domain' ? { servername: step.target.host } : {}),
  });
}

/**
 * Through the parent proxy (parent.ts): plain HTTP in absolute form on the keep-alive agent; TLS (an
 * inspected request) and a WebSocket (no agent) over a CONNECT tunnel. TLS is checked against the name.
 */
function parentRequest(
  edge: EdgeContext,
  parent: ParentProxy,
  req: IncomingMessage,
  step: { target: Target; address: string; rawPath: string },
  headers: IncomingHttpHeaders,
  secure: boolean,
): http.ClientRequest {
  const { target } = step;
  if (!secure && !headers.upgrade)
    return http.request({
      host: parent.host,
      port: parent.port,
      method: req.method,
      path: `http://${authority(step.address, target.port)}${step.rawPath}`,
      headers,
      agent: edge.agent,
    });
  const origin = {
    host: step.address,
    port: target.port,
    method: req.method,
    path: step.rawPath,
    headers,
    ...(secure && target.hostKind === 'domain' ? { servername: target.host } : {}),
  };
  if (secure) return https.request({ ...origin, agent: edge.tls!.parentAgent! });
  // A plain WebSocket: its own tunnel (a parent need not relay an Upgrade sent in absolute form).
  const createConnection = viaParentConnection(parent, edge.config.limits.connectTimeoutMs, false);
  return http.request({ ...origin, agent: false, createConnection: createConnection as never });
}

function upstreamHeaders(
  incoming: IncomingHttpHeaders,
  target: Target,
  extra: Record<string, string>,
  keep: readonly string[] = [],
): IncomingHttpHeaders {
  // The selftest's token is for this proxy, never for the origin.
  const headers = withoutHopByHop(incoming, keep);
  if (SELFTEST_HEADER in headers) delete headers[SELFTEST_HEADER];
  headers.host = authorityOf(target);
  for (const [name, value] of Object.entries(extra)) headers[name] = value;
  headers.via = appendVia(headers.via);
  return headers;
}

function responseHead(answer: Pick<IncomingMessage, 'statusCode' | 'statusMessage' | 'headers'>): string {
  const lines = [`HTTP/1.1 ${answer.statusCode ?? 502} ${answer.statusMessage ?? ''}`];
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function appendVia(existing: string | string[] | undefined): string {
  const via = '1.1 schoolgate';
  const prior = Array.isArray(existing) ? existing.join(', ') : existing;
  return prior ? `${prior}, ${via}` : via;
}
