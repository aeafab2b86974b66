/**
 * HTTP requests through the proxy, whatever the transport: absolute-form requests on the proxy port, and the
 * inner (origin-form) requests of an intercepted HTTPS tunnel, which carry the tunnel's client identity
 * (TunnelContext). Both go through the same Gatekeeper.check → refusalFor / commitRow → forward path;
 * origin-form requests on the proxy port (and requests naming the proxy itself) get the proxy's own pages.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isTargetError } from '../policy/target-error.js';
import { parseAbsoluteTarget } from '../policy/target.js';
import type { Target } from '../policy/types.js';
import { auditUnavailableAnswer, CONTINUE_PATH, errorBody, refusalFor } from './answers.js';
import { handleContinue } from './continue.js';
import { handleSelfReport, REPORT_PATH } from './self-report.js';
import { answerContext, attemptOf, commitRow, type EdgeContext } from './edge-context.js';
import { auditEventFor, ruleText, type Attempt } from './gatekeeper.js';
import { stripHopByHop } from './hop-by-hop.js';
import { isOwnTarget, serveOwnPage } from './own-pages.js';
import { authorityOf, checkRawRequest, rawPathOf } from './raw-checks.js';
import { closingSockets, sendPage } from './respond.js';
import type { Duplex } from 'node:stream';
import { hasBody, inflight, readBody, type Body } from './request-body.js';
import type { AuditEvent } from '../audit/types.js';
import { safeSearchRewrite } from '../policy/safesearch.js';
import { extractSearchTerm } from '../policy/search-terms.js';
import { CAUSE_TEXT, upstreamTlsCause } from '../tls/failure-cause.js';
import { tunnelContexts, type TunnelContext } from './intercept/context.js';
import type { Verdict } from './gatekeeper.js';

export async function handleHttpRequest(
  edge: EdgeContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  edge.stats.requests++;
  const tunnel = tunnelContexts.get(req.socket);
  if (tunnel) return handleInspectedRequest(edge, req, res, tunnel);
  const rawUrl = req.url ?? '';
  const attempt = attemptOf(edge, req);
  const clientIp = attempt.clientIp;

  const rawFailure = checkRawRequest(req);
  if (rawUrl.startsWith('/') || rawUrl === '*') {
    if (rawFailure) return reject(edge, attempt, res, rawUrl, rawFailure.status, rawFailure.reason);
    return serveOwnPage(edge, req, res, rawUrl);
  }
  if (!edge.gatekeeper.isClientAllowed(clientIp)) return refuse(edge, attempt, req, res, rawUrl);
  if (rawFailure) return reject(edge, attempt, res, rawUrl, rawFailure.status, rawFailure.reason);
  let target: Target;
  try {
    target = parseAbsoluteTarget(rawUrl);
  } catch (err) {
    if (!isTargetError(err)) throw err;
    return reject(edge, attempt, res, rawUrl, 400, `bad-request:${err.reason}`);
  }
  if (isOwnTarget(edge, target)) return serveOwnPage(edge, req, res, rawPathOf(rawUrl));
  if (target.scheme !== 'http') return reject(edge, attempt, res, rawUrl, 400, 'bad-request:https-in-http');
  if (target.path.startsWith(CONTINUE_PATH)) return handleContinue(edge, attempt, req, res, target);
  if (target.path.startsWith(REPORT_PATH)) return handleSelfReport(edge, attempt, req, res, target);

  await decideAndForward(edge, attempt, req, res, target, {
    pageUrl: rawUrl,
    rawPath: rawPathOf(rawUrl),
    ports: edge.config.httpPorts,
    kind: 'request',
  });
}

/** An inner request of an intercepted tunnel: origin-form, decided on its own Host (fronting, C06/C07). */
async function handleInspectedRequest(
  edge: EdgeContext,
  req: IncomingMessage,
  res: ServerResponse,
  tunnel: TunnelContext,
): Promise<void> {
  const rawUrl = req.url ?? '';
  const attempt = edge.gatekeeper.newAttempt(tunnel.clientIp, req.method ?? '', tunnel.proxyAuthorization);
  const fallbackHost = authorityOf({ ...tunnel.connect, host: tunnel.sni ?? tunnel.connect.host });
  const hostHeader = header(req, 'host') ?? fallbackHost;
  const pageUrl = truncate(`https://${hostHeader}${rawUrl}`);
  const rejectInner = (status: number, reason: string) =>
    reject(edge, attempt, res, pageUrl, status, reason, 'inspected');
  const rawFailure = checkRawRequest(req);
  if (rawFailure) return rejectInner(rawFailure.status, rawFailure.reason);
  if (!rawUrl.startsWith('/')) return rejectInner(400, 'bad-request:inner-target');
  if (/[/?#@\\\s]/.test(hostHeader)) return rejectInner(400, 'bad-request:host');
  let target: Target;
  try {
    target = parseAbsoluteTarget(`https://${hostHeader}${rawUrl}`);
  } catch (err) {
    if (!isTargetError(err)) throw err;
    return rejectInner(400, `bad-request:${err.reason}`);
  }
  // Without a port in Host the request goes where the CONNECT went.
  if (!/:\d+$/.test(hostHeader)) target = { ...target, port: tunnel.connect.port };
  const tunnelHost = tunnel.sni ?? tunnel.connect.host;
  if (target.host !== tunnelHost)
    edge.logger.info(
      { id: attempt.id, tunnel: tunnel.tunnelId, tunnelHost, host: target.host },
      'inner Host differs from the tunnel name (fronting?): decided on the inner Host',
    );
  if (target.path.startsWith(CONTINUE_PATH))
    return handleContinue(edge, attempt, req, res, target, 'inspected');
  if (target.path.startsWith(REPORT_PATH))
    return handleSelfReport(edge, attempt, req, res, target, 'inspected');
  const hash = rawUrl.indexOf('#');
  await decideAndForward(edge, attempt, req, res, target, {
    pageUrl,
    rawPath: hash >= 0 ? rawUrl.slice(0, hash) : rawUrl,
    ports: edge.config.tunnelPorts,
    kind: 'inspected',
  });
}

interface ForwardPlan {
  /** The address shown on pages. */
  pageUrl: string;
  /** The client's path and query bytes, fragment dropped: what goes upstream (after any SafeSearch rewrite). */
  rawPath: string;
  ports: readonly number[];
  kind: 'request' | 'inspected';
}

/** The one decide → answer-or-forward path for HTTP and inspected HTTPS requests. */
async function decideAndForward(
  edge: EdgeContext,
  attempt: Attempt,
  req: IncomingMessage,
  res: ServerResponse,
  target: Target,
  plan: ForwardPlan,
): Promise<void> {
  const verdict = await edge.gatekeeper.check(attempt, target, plan.ports);
  const search = extractSearchTerm(target, target.path);
  const extra: Partial<AuditEvent> = {
    kind: plan.kind,
    ...(search ? { searchTerm: search.term, searchEngine: search.engine } : {}),
  };
  if (verdict.kind !== 'allow') {
    const refusal = refusalFor(verdict, attempt, target, plan.pageUrl, answerContext(edge));
    const event = auditEventFor(attempt, target, verdict, {
      action: refusal.action,
      reason: refusal.reason,
      status: refusal.answer.status,
    });
    if (!(await commitRow(edge, { ...event, ...extra })))
      return sendPage(res, auditUnavailableAnswer(pageBase(edge, plan.pageUrl)));
    // A body we never read (or a client waiting for 100 Continue) must not be taken as the next request.
    return sendPage(res, { ...refusal.answer, close: refusal.answer.close || hasBody(req) });
  }

  // SafeSearch / YouTube restrictions, enforced whatever the user sent; each rewrite is in the row.
  const profile = edge.policy().profiles.get(verdict.identity.profile);
  const rewrite = safeSearchRewrite(target.host, plan.rawPath, {
    safeSearch: profile?.safeSearch ?? false,
    youtubeRestrict: profile?.youtubeRestrict ?? 'off',
  });
  if (rewrite.rewrites.length > 0) extra.rewrites = rewrite.rewrites;

  // Read a small body before anything goes upstream, so that a body the parser refuses (bad chunking)
  // ends as one reject row and no upstream connection. Large bodies stream.
  const body = await readBody(req, res);
  if (body === 'aborted') return;
  const event = auditEventFor(attempt, target, verdict, {
    action: verdict.continued ? 'continued' : 'allow',
    reason: verdict.decision.rule.kind,
    status: null,
  });
  if (!(await commitRow(edge, { ...event, ...extra })))
    return sendPage(res, auditUnavailableAnswer(pageBase(edge, plan.pageUrl)));
  edge.logger.debug({ id: attempt.id, host: target.host, rule: ruleText(verdict.decision) }, 'forward');
  forward(edge, attempt, req, res, target, verdict, body, {
    rawPath: rewrite.pathAndQuery,
    headers: rewrite.headers,
    pageUrl: plan.pageUrl,
  });
}

/** Per-forward state the shared http-proxy listeners fill in (one listener, looked up by request). */
interface Exchange {
  status: number | null;
  bytesOut: number;
  /** The client's path bytes: http-proxy's urlJoin would collapse '//', so the hook puts them back. */
  rawPath: string;
  /** Whether the client connection stays open after this response (the client's Connection header). */
  keepAlive: boolean;
}
const exchanges = new WeakMap<IncomingMessage, Exchange>();

/** Installed once per http-proxy instance: records the upstream status and counts response bytes. */
export function installProxyHooks(edge: Pick<EdgeContext, 'proxy'>): void {
  edge.proxy.on('proxyReq', (proxyReq, req) => {
    const exchange = exchanges.get(req);
    if (exchange) proxyReq.path = exchange.rawPath;
  });
  edge.proxy.on('proxyRes', (proxyRes, req) => {
    const exchange = exchanges.get(req);
    if (!exchange) return;
    exchange.status = proxyRes.statusCode ?? null;
    stripHopByHop(proxyRes.headers, ['connection', 'keep-alive']);
    // http-proxy would otherwise answer 'keep-alive' to a client that asked to close (the request's own
    // Connection header is stripped before forwarding).
    proxyRes.headers.connection = exchange.keepAlive ? 'keep-alive' : 'close';
    proxyRes.on('data', (chunk: Buffer) => (exchange.bytesOut += chunk.length));
  });
}

function forward(
  edge: EdgeContext,
  attempt: Attempt,
  req: IncomingMessage,
  res: ServerResponse,
  target: Target,
  verdict: Extract<Verdict, { kind: 'allow' }>,
  body: Body,
  out: { rawPath: string; headers: Record<string, string>; pageUrl: string },
): void {
  // Forward the client's own path bytes (fragment dropped) to the address that was checked, with a Host
  // header rebuilt from the canonical target: the origin sees what the policy saw.
  const exchange: Exchange = {
    status: null,
    bytesOut: 0,
    rawPath: out.rawPath,
    keepAlive: (res as { shouldKeepAlive?: boolean }).shouldKeepAlive !== false,
  };
  exchanges.set(req, exchange);
  inflight.set(req.socket, attempt.id);
  let bytesIn = body.bytes;
  if (body.streaming) req.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
  req.url = exchange.rawPath;
  req.headers.host = authorityOf(target);
  stripHopByHop(req.headers);
  delete req.headers.expect; // answered by us (readBody) already
  for (const [name, value] of Object.entries(out.headers)) req.headers[name] = value;
  req.headers.via = appendVia(req.headers.via);
  let finished = false;
  const done = () => {
    if (finished) return;
    finished = true;
    if (inflight.get(req.socket) === attempt.id) inflight.delete(req.socket);
    const { status, bytesOut } = exchange;
    edge.audit.complete(attempt.id, {
      status,
      bytesIn,
      bytesOut,
      durationMs: Date.now() - attempt.startedAt,
    });
  };
  res.on('finish', done);
  res.on('close', done);
  const https = target.scheme === 'https' && edge.tls !== null;
  edge.proxy.web(
    req,
    res,
    {
      target: { protocol: https ? 'https:' : 'http:', host: verdict.resolution.address, port: target.port },
      agent: https ? edge.tls!.upstreamAgent : edge.agent,
      // Upstream certificates are verified (against the name in Host, which is the checked target).
      secure: true,
      ...(body.stream ? { buffer: body.stream } : {}),
      proxyTimeout: edge.config.limits.requestTimeoutMs,
      xfwd: false,
      changeOrigin: false,
    },
    (err: Error & { code?: string }) => {
      const cause = https ? upstreamTlsCause(err) : null;
      const status = err.code === 'ETIMEDOUT' ? 504 : 502;
      exchange.status = status;
      if (cause)
        edge.logger.warn(
          { id: attempt.id, host: target.host, cause, code: err.code },
          'upstream certificate refused',
        );
      else edge.logger.debug({ id: attempt.id, err: err.message, code: err.code }, 'upstream error');
      if (res.headersSent) return void res.destroy();
      sendPage(res, {
        status,
        close: true,
        body: errorBody(
          status,
          {
            url: out.pageUrl,
            host: target.host,
            time: edge.now(),
            timeZone: edge.config.timeZone,
            reference: attempt.id,
          },
          cause ? `${CAUSE_TEXT[cause]} The filter will not connect to it (${cause}).` : undefined,
        ),
      });
    },
  );
}

function appendVia(existing: string | string[] | undefined): string {
  const via = '1.1 schoolgate';
  const prior = Array.isArray(existing) ? existing.join(', ') : existing;
  return prior ? `${prior}, ${via}` : via;
}

async function refuse(
  edge: EdgeContext,
  attempt: Attempt,
  _req: IncomingMessage,
  res: ServerResponse,
  rawUrl: string,
): Promise<void> {
  const host = safeHostOf(rawUrl);
  const refusal = refusalFor(
    { kind: 'refused' },
    attempt,
    { scheme: 'http', host, hostKind: 'domain', port: 80, path: '/' },
    rawUrl,
    answerContext(edge),
  );
  const event = auditEventFor(attempt, { host, path: truncate(rawUrl) }, null, {
    action: 'refused',
    reason: 'client-network',
    status: 403,
  });
  await commitRow(edge, event);
  sendPage(res, refusal.answer);
}

/** A malformed request: a 400 (or the stated code), a row saying why, and the connection closed. */
async function reject(
  edge: EdgeContext,
  attempt: Attempt,
  res: ServerResponse,
  rawUrl: string,
  status: number,
  reason: string,
  kind: 'request' | 'inspected' = 'request',
): Promise<void> {
  closingSockets.add(res.socket as Duplex); // whatever the parser finds after this is part of this request
  const event = auditEventFor(attempt, { host: safeHostOf(rawUrl), path: truncate(rawUrl) }, null, {
    action: 'reject',
    reason,
    status,
  });
  await commitRow(edge, { ...event, kind });
  const body = errorBody(400, { ...pageBase(edge, rawUrl), reference: attempt.id }, undefined, 'bad-request');
  sendPage(res, { status, close: true, body });
}

function pageBase(edge: EdgeContext, url: string) {
  return { url: truncate(url), time: edge.now(), timeZone: edge.config.timeZone };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** For rows of requests that did not parse: the raw authority, bounded, for investigators to read. */
export function safeHostOf(rawUrl: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(rawUrl);
  return truncate(m ? m[1]! : '', 255);
}

function truncate(s: string, max = 2048): string {
  return s.length > max ? s.slice(0, max) : s;
}
