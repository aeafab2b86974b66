/**
 * Upgrade requests (WebSocket). Node sends every request with an Upgrade header here instead of to the
 * 'request' handler, so the same pipeline must run here too or upgrades would bypass the filter.
 * h2c is refused: we only relay protocols we can filter.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isTargetError } from '../policy/target-error.js';
import { parseAbsoluteTarget } from '../policy/target.js';
import type { Target } from '../policy/types.js';
import { auditUnavailableAnswer, errorBody, refusalFor } from './answers.js';
import { answerContext, clientAddress, commitRow, type EdgeContext } from './edge-context.js';
import { auditEventFor } from './gatekeeper.js';
import { safeHostOf } from './handle-http.js';
import { stripHopByHop } from './hop-by-hop.js';
import { authorityOf, checkRawRequest, rawPathOf } from './raw-checks.js';
import { writeRawAnswer } from './respond.js';

export async function handleUpgrade(
  edge: EdgeContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  edge.stats.requests++;
  socket.on('error', () => socket.destroy());
  const rawUrl = req.url ?? '';
  const clientIp = clientAddress(req.socket.remoteAddress);
  const auth = req.headers['proxy-authorization'];
  const attempt = edge.gatekeeper.newAttempt(
    clientIp,
    req.method ?? '',
    Array.isArray(auth) ? auth[0] : auth,
  );
  const time = () => ({ time: edge.now(), timeZone: edge.config.timeZone });
  const reject = async (reason: string, status = 400) => {
    const row = auditEventFor(attempt, { host: safeHostOf(rawUrl), path: rawUrl.slice(0, 2048) }, null, {
      action: edge.gatekeeper.isClientAllowed(clientIp) ? 'reject' : 'refused',
      reason,
      status,
    });
    await commitRow(edge, row);
    writeRawAnswer(socket, { status, body: errorBody(400, { ...time(), reference: attempt.id }) });
  };

  const protocol = String(req.headers.upgrade ?? '').toLowerCase();
  if (protocol !== 'websocket') return reject('bad-request:upgrade-protocol');
  const raw = checkRawRequest(req);
  if (raw) return reject(raw.reason, raw.status);
  let target: Target;
  try {
    target = parseAbsoluteTarget(rawUrl);
  } catch (err) {
    if (!isTargetError(err)) throw err;
    return reject(`bad-request:${err.reason}`);
  }
  if (target.scheme !== 'http') return reject('bad-request:https-in-http');

  const verdict = await edge.gatekeeper.check(attempt, target, edge.config.httpPorts);
  if (verdict.kind !== 'allow') {
    const refusal = refusalFor(verdict, attempt, target, rawUrl, answerContext(edge));
    const event = auditEventFor(attempt, target, verdict, {
      action: refusal.action === 'warn' ? 'block' : refusal.action,
      reason: refusal.reason,
      status: refusal.answer.status,
    });
    if (!(await commitRow(edge, event))) return writeRawAnswer(socket, auditUnavailableAnswer(time()));
    return writeRawAnswer(socket, refusal.answer);
  }
  const event = auditEventFor(attempt, target, verdict, {
    action: verdict.continued ? 'continued' : 'allow',
    reason: verdict.decision.rule.kind,
    status: 101,
  });
  if (!(await commitRow(edge, event))) return writeRawAnswer(socket, auditUnavailableAnswer(time()));
  req.url = rawPathOf(rawUrl);
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
    { target: { protocol: 'http:', host: verdict.resolution.address, port: target.port } },
    () => socket.destroy(),
  );
}
