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
import { auditUnavailableAnswer, errorBody, refusalFor } from '../answers.js';
import { answerContext, commitRow, type EdgeContext } from '../edge-context.js';
import { auditEventFor } from '../gatekeeper.js';
import { stripHopByHop } from '../hop-by-hop.js';
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

  const verdict = await edge.gatekeeper.check(attempt, target, edge.config.tunnelPorts);
  if (verdict.kind !== 'allow') {
    const refusal = refusalFor(verdict, attempt, target, pageUrl, answerContext(edge));
    const event = auditEventFor(attempt, target, verdict, {
      action: refusal.action === 'warn' ? 'block' : refusal.action,
      reason: refusal.reason,
      status: refusal.answer.status,
    });
    if (!(await commitRow(edge, { ...event, kind: 'inspected' })))
      return writeRawAnswer(socket, auditUnavailableAnswer(time()));
    return writeRawAnswer(socket, refusal.answer);
  }
  const event = auditEventFor(attempt, target, verdict, {
    action: verdict.continued ? 'continued' : 'allow',
    reason: verdict.decision.rule.kind,
    status: 101,
  });
  if (!(await commitRow(edge, { ...event, kind: 'inspected' })))
    return writeRawAnswer(socket, auditUnavailableAnswer(time()));
  const hash = rawUrl.indexOf('#');
  req.url = hash >= 0 ? rawUrl.slice(0, hash) : rawUrl;
  req.headers.host = authorityOf(target);
  stripHopByHop(req.headers, ['upgrade', 'connection']);
  const started = Date.now();
  socket.once('close', () =>
    edge.audit.complete(attempt.id, {
      status: 101,
      bytesIn: 0,
      bytesOut: 0,
      durationMs: Date.now() - started,
    }),
  );
  edge.proxy.ws(
    req,
    socket,
    head,
    {
      target: { protocol: 'https:', host: verdict.resolution.address, port: target.port },
      agent: edge.tls.upstreamAgent,
      secure: true,
    },
    () => socket.destroy(),
  );
}
