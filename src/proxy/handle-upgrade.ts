/**
 * Upgrade requests (WebSocket). Node sends every request with an Upgrade header here instead of to the
 * 'request' handler, so the same pipeline must run here too or upgrades would bypass the filter.
 * h2c is refused: we only relay protocols we can filter.
 */
import type { Agent, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isTargetError } from '../policy/target-error.js';
import { parseAbsoluteTarget } from '../policy/target.js';
import type { Target } from '../policy/types.js';
import { auditUnavailableAnswer, errorBody, refusalFor } from './answers.js';
import { answerContext, attemptOf, commitRow, type EdgeContext } from './edge-context.js';
import { auditEventFor, type Attempt } from './gatekeeper.js';
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
  const attempt = attemptOf(edge, req);
  const clientIp = attempt.clientIp;
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

  await decideAndRelayUpgrade(edge, attempt, req, socket, head, target, {
    pageUrl: rawUrl,
    rawPath: rawPathOf(rawUrl),
    ports: edge.config.httpPorts,
    kind: 'request',
    upstream: { protocol: 'http:' },
  });
}

export interface UpgradePlan {
  /** The address shown on pages. */
  pageUrl: string;
  /** The client's path and query bytes (fragment dropped): what goes upstream. */
  rawPath: string;
  ports: readonly number[];
  kind: 'request' | 'inspected';
  upstream: { protocol: 'http:' | 'https:'; agent?: Agent; secure?: boolean };
}

/** The one decide → refuse-or-relay path for WebSocket upgrades, on the proxy port and inside tunnels. */
export async function decideAndRelayUpgrade(
  edge: EdgeContext,
  attempt: Attempt,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: Target,
  plan: UpgradePlan,
): Promise<void> {
  const time = () => ({ time: edge.now(), timeZone: edge.config.timeZone });
  const verdict = await edge.gatekeeper.check(attempt, target, plan.ports);
  if (verdict.kind !== 'allow') {
    // A warn page cannot be shown in place of a WebSocket: a warned upgrade is refused.
    const refusal = refusalFor(verdict, attempt, target, plan.pageUrl, answerContext(edge));
    const event = auditEventFor(attempt, target, verdict, {
      action: refusal.action === 'warn' ? 'block' : refusal.action,
      reason: refusal.reason,
      status: refusal.answer.status,
    });
    if (!(await commitRow(edge, { ...event, kind: plan.kind })))
      return writeRawAnswer(socket, auditUnavailableAnswer(time()));
    return writeRawAnswer(socket, refusal.answer);
  }
  const event = auditEventFor(attempt, target, verdict, {
    action: verdict.continued ? 'continued' : 'allow',
    reason: verdict.decision.rule.kind,
    status: 101,
  });
  if (!(await commitRow(edge, { ...event, kind: plan.kind })))
    return writeRawAnswer(socket, auditUnavailableAnswer(time()));
  req.url = plan.rawPath;
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
  const { protocol, ...tls } = plan.upstream;
  edge.proxy.ws(
    req,
    socket,
    head,
    { target: { protocol, host: verdict.resolution.address, port: target.port }, ...tls },
    () => socket.destroy(),
  );
}
