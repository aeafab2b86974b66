/**
 * CONNECT host:port: decided on the host name only (no interception yet). Allowed → the row is committed
 * and the upstream connected (in parallel), then `200 Connection Established` and a raw tunnel with idle
 * timeouts on both legs; anything else → a complete HTTP answer and the connection closed.
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { isTargetError } from '../policy/target-error.js';
import { parseConnectTarget } from '../policy/target.js';
import type { Target } from '../policy/types.js';
import { auditUnavailableAnswer, errorBody, refusalFor } from './answers.js';
import { answerContext, clientAddress, commitRow, type EdgeContext } from './edge-context.js';
import { auditEventFor, type Attempt } from './gatekeeper.js';
import { safeHostOf } from './handle-http.js';
import { writeRawAnswer } from './respond.js';

export async function handleConnect(
  edge: EdgeContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  edge.stats.requests++;
  socket.on('error', () => socket.destroy());
  const authority = req.url ?? '';
  const clientIp = clientAddress(req.socket.remoteAddress);
  const proxyAuth = req.headers['proxy-authorization'];
  const attempt = edge.gatekeeper.newAttempt(
    clientIp,
    'CONNECT',
    Array.isArray(proxyAuth) ? proxyAuth[0] : proxyAuth,
  );
  const time = () => ({ time: edge.now(), timeZone: edge.config.timeZone });

  let target: Target;
  try {
    target = parseConnectTarget(authority);
  } catch (err) {
    if (!isTargetError(err)) throw err;
    const allowed = edge.gatekeeper.isClientAllowed(clientIp);
    const action = allowed ? 'reject' : 'refused';
    const reason = allowed ? `bad-request:${err.reason}` : 'client-network';
    const status = allowed ? 400 : 403;
    await commitRow(
      edge,
      auditEventFor(attempt, { host: safeHostOf(`x://${authority}`) }, null, { action, reason, status }),
    );
    return writeRawAnswer(socket, { status, body: errorBody(400, { ...time(), reference: attempt.id }) });
  }

  const verdict = await edge.gatekeeper.check(attempt, target, edge.config.tunnelPorts);
  if (verdict.kind !== 'allow') {
    // A warn page cannot be shown inside an uninspected tunnel: the browser only sees the status.
    const refusal = refusalFor(verdict, attempt, target, `https://${authority}/`, answerContext(edge));
    const event = auditEventFor(attempt, target, verdict, {
      action: refusal.action,
      reason: refusal.reason,
      status: refusal.answer.status,
    });
    if (!(await commitRow(edge, event))) return writeRawAnswer(socket, auditUnavailableAnswer(time()));
    return writeRawAnswer(socket, refusal.answer);
  }

  const event = auditEventFor(attempt, target, verdict, {
    action: verdict.continued ? 'continued' : 'allow',
    reason: verdict.decision.rule.kind,
    status: 200,
  });
  const [committed, upstream] = await Promise.all([
    commitRow(edge, event),
    connectUpstream(verdict.resolution.address, target.port, edge.config.limits.connectTimeoutMs),
  ]);
  if (!committed) {
    if (upstream instanceof net.Socket) upstream.destroy();
    return writeRawAnswer(socket, auditUnavailableAnswer(time()));
  }
  if (!(upstream instanceof net.Socket)) {
    const status = upstream === 'timeout' ? 504 : 502;
    edge.audit.complete(attempt.id, {
      status,
      bytesIn: 0,
      bytesOut: 0,
      durationMs: Date.now() - attempt.startedAt,
    });
    return writeRawAnswer(socket, {
      status,
      body: errorBody(status, { host: target.host, ...time(), reference: attempt.id }),
    });
  }
  tunnel(edge, attempt, socket, upstream, head);
}

function tunnel(
  edge: EdgeContext,
  attempt: Attempt,
  client: Duplex,
  upstream: net.Socket,
  head: Buffer,
): void {
  edge.stats.tunnels++;
  edge.stats.openTunnels++;
  let bytesIn = head.length;
  let bytesOut = 0;
  const idle = edge.config.limits.tunnelIdleTimeoutMs;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    edge.stats.openTunnels--;
    client.destroy();
    upstream.destroy();
    edge.audit.complete(attempt.id, {
      status: 200,
      bytesIn,
      bytesOut,
      durationMs: Date.now() - attempt.startedAt,
    });
  };
  client.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
  upstream.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
  for (const leg of [client, upstream] as const) {
    leg.on('error', close);
    leg.on('close', close);
  }
  (client as net.Socket).setTimeout?.(idle, close);
  upstream.setTimeout(idle, close);
  if (head.length > 0) upstream.write(head);
  client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  client.pipe(upstream);
  upstream.pipe(client);
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
