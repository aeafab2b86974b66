/**
 * WebSocket upgrades inside an intercepted tunnel: decided like any inner request (on the inner Host and
 * full path, with the tunnel's identity), then piped to the origin over verified TLS. Only 'websocket'
 * is relayed (h2c and the like are refused, as on the proxy port).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isTargetError } from '../../policy/target-error.js';
import { parseAbsoluteTarget } from '../../policy/target.js';
import type { Target } from '../../policy/types.js';
import { errorBody } from '../answers.js';
import { commitRow, type EdgeContext } from '../edge-context.js';
import { auditEventFor } from '../gatekeeper.js';
import { decideAndRelayUpgrade } from '../handle-upgrade.js';
import { authorityOf, checkRawRequest } from '../raw-checks.js';
import { writeRawAnswer } from '../respond.js';
import { tunnelContexts } from './context.js';

export async function handleInnerUpgrade(
  edge: EdgeContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  edge.stats.requests++;
  socket.on('error', () => socket.destroy());
  const tunnel = tunnelContexts.get(req.socket);
  if (!tunnel || !edge.tls) return void socket.destroy();
  const rawUrl = req.url ?? '';
  const attempt = edge.gatekeeper.newAttempt(tunnel.clientIp, req.method ?? '', tunnel.proxyAuthorization);
  const hostHeader = String(req.headers.host ?? authorityOf(tunnel.connect));
  const pageUrl = `https://${hostHeader}${rawUrl}`.slice(0, 2048);
  const time = () => ({ time: edge.now(), timeZone: edge.config.timeZone });
  const reject = async (reason: string, status = 400) => {
    const row = auditEventFor(attempt, { host: tunnel.connect.host, path: rawUrl.slice(0, 2048) }, null, {
      action: 'reject',
      reason,
      status,
    });
    await commitRow(edge, { ...row, kind: 'inspected' });
    writeRawAnswer(socket, { status, body: errorBody(400, { ...time(), reference: attempt.id }) });
  };
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket')
    return reject('bad-request:upgrade-protocol');
  const raw = checkRawRequest(req);
  if (raw) return reject(raw.reason, raw.status);
  if (!rawUrl.startsWith('/') || /[/?#@\\\s]/.test(hostHeader)) return reject('bad-request:inner-target');
  let target: Target;
  try {
    target = parseAbsoluteTarget(`https://${hostHeader}${rawUrl}`);
  } catch (err) {
    if (!isTargetError(err)) throw err;
    return reject(`bad-request:${err.reason}`);
  }
  if (!/:\d+$/.test(hostHeader)) target = { ...target, port: tunnel.connect.port };

  const hash = rawUrl.indexOf('#');
  await decideAndRelayUpgrade(edge, attempt, req, socket, head, target, {
    pageUrl,
    rawPath: hash >= 0 ? rawUrl.slice(0, hash) : rawUrl,
    ports: edge.config.tunnelPorts,
    kind: 'inspected',
    upstream: { protocol: 'https:', agent: edge.tls.upstreamAgent, secure: true },
  });
}
