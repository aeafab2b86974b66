/**
 * CONNECT host:port. The CONNECT is decided on its host (one audit row, kind 'tunnel'). When the host is
 * allowed or warned and the profile inspects (and no never-inspect rule exempts it), TLS is terminated
 * with a leaf signed by the school CA and every inner request goes through the same pipeline on its full
 * URL (intercept/); otherwise the bytes are tunnelled raw, as before, with idle timeouts on both legs.
 * Either way the client's first flight is read before anything is relayed, so that a ClientHello whose SNI
 * names another host than the CONNECT is decided on both (hostile-inputs C04).
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { normaliseHost } from '../policy/host.js';
import { safeSearchHostMapping } from '../policy/safesearch.js';
import { isTargetError } from '../policy/target-error.js';
import { parseConnectTarget } from '../policy/target.js';
import type { Profile, Target } from '../policy/types.js';
import { readFirstFlight, type FirstFlight } from '../tls/client-hello.js';
import { auditUnavailableAnswer, errorBody, refusalFor } from './answers.js';
import { answerContext, attemptOf, commitRow, type EdgeContext } from './edge-context.js';
import { auditEventFor, type Attempt, type Verdict } from './gatekeeper.js';
import { safeHostOf } from './handle-http.js';
import type { TunnelContext } from './intercept/context.js';
import { intercept } from './intercept/intercept.js';
import { inspectionPlan, type InspectionPlan } from './intercept/plan.js';
import type { Resolution } from './resolve.js';
import { writeRawAnswer } from './respond.js';

type Opened = Extract<Verdict, { kind: 'allow' | 'warn' }>;

export async function handleConnect(
  edge: EdgeContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  edge.stats.requests++;
  socket.on('error', () => socket.destroy());
  const authority = req.url ?? '';
  const attempt = attemptOf(edge, req);
  const clientIp = attempt.clientIp;
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
    await commitRow(edge, {
      ...auditEventFor(attempt, { host: safeHostOf(`x://${authority}`) }, null, { action, reason, status }),
      kind: 'tunnel',
    });
    return writeRawAnswer(socket, { status, body: errorBody(400, { ...time(), reference: attempt.id }) });
  }

  const verdict = await edge.gatekeeper.check(attempt, target, edge.config.tunnelPorts);
  const profile = 'identity' in verdict ? edge.policy().profiles.get(verdict.identity.profile) : undefined;
  const plan =
    verdict.kind === 'allow' || verdict.kind === 'warn'
      ? inspectionPlan(edge.config, edge.tls !== null, profile, [
          { host: target.host, categories: verdict.decision.categories },
        ])
      : ({ inspect: false, why: 'refused' } as const);

  // Refused at the CONNECT. A warn page cannot be shown inside an uninspected tunnel: the browser only
  // sees the status; an inspected one shows it on the first inner request instead.
  if (verdict.kind !== 'allow' && !(verdict.kind === 'warn' && plan.inspect)) {
    const refusal = refusalFor(verdict, attempt, target, `https://${authority}/`, answerContext(edge));
    const event = auditEventFor(attempt, target, verdict, {
      action: refusal.action,
      reason: refusal.reason,
      status: refusal.answer.status,
    });
    if (!(await commitRow(edge, { ...event, kind: 'tunnel' })))
      return writeRawAnswer(socket, auditUnavailableAnswer(time()));
    return writeRawAnswer(socket, refusal.answer);
  }
  const opened = verdict as Opened;
  await openTunnel(edge, attempt, target, opened, profile, plan, socket, head);
}

async function openTunnel(
  edge: EdgeContext,
  attempt: Attempt,
  target: Target,
  verdict: Opened,
  profile: Profile | undefined,
  plan: InspectionPlan,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  const time = () => ({ time: edge.now(), timeZone: edge.config.timeZone });
  // Profiles without inspection get SafeSearch by connecting to the engines' documented safe hosts.
  const mapped =
    !plan.inspect && profile
      ? safeSearchHostMapping(target.host, {
          safeSearch: profile.safeSearch ?? false,
          youtubeRestrict: profile.youtubeRestrict ?? 'off',
        })
      : null;
  const continued = verdict.kind === 'allow' && verdict.continued;
  const event = {
    ...auditEventFor(attempt, target, verdict, {
      action: continued ? ('continued' as const) : ('allow' as const),
      reason: plan.inspect ? `inspect:${verdict.decision.rule.kind}` : verdict.decision.rule.kind,
      status: 200,
    }),
    kind: 'tunnel' as const,
    ...(mapped ? { rewrites: [`host:${mapped}`] } : {}),
  };
  const upstreamFor = async (): Promise<net.Socket | 'timeout' | 'error' | Resolution> => {
    let resolution: Resolution =
      verdict.kind === 'allow' ? verdict.resolution : await edge.resolver.resolve(target);
    if (mapped) resolution = await edge.resolver.resolve({ ...target, host: mapped, hostKind: 'domain' });
    if (!resolution.ok) return resolution;
    return connectUpstream(resolution.address, target.port, edge.config.limits.connectTimeoutMs);
  };
  const [committed, upstream] = await Promise.all([
    commitRow(edge, event),
    plan.inspect ? Promise.resolve(null) : upstreamFor(),
  ]);
  if (!committed) {
    if (upstream instanceof net.Socket) upstream.destroy();
    return writeRawAnswer(socket, auditUnavailableAnswer(time()));
  }
  if (upstream !== null && !(upstream instanceof net.Socket)) {
    const status = upstream === 'timeout' ? 504 : 502;
    complete(edge, attempt, status, 0, 0);
    return writeRawAnswer(socket, {
      status,
      body: errorBody(status, { host: target.host, ...time(), reference: attempt.id }),
    });
  }
  edge.stats.tunnels++;
  edge.stats.openTunnels++;
  let done = false;
  const finish = (status: number, bytesIn: number, bytesOut: number) => {
    if (done) return;
    done = true;
    edge.stats.openTunnels--;
    complete(edge, attempt, status, bytesIn, bytesOut);
  };
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  const limits = edge.config.limits;
  const flightTimeout = Math.min(edge.config.tls.handshakeTimeoutMs, limits.tunnelIdleTimeoutMs);
  const flight = await readFirstFlight(socket, head, flightTimeout);

  if (flight.kind === 'timeout' || flight.kind === 'closed' || flight.kind === 'malformed') {
    edge.logger.debug(
      { id: attempt.id, host: target.host, first: flight.kind },
      'tunnel ended before a ClientHello',
    );
    if (upstream instanceof net.Socket) upstream.destroy();
    socket.destroy();
    return finish(200, flight.bytes.length, 0);
  }

  let sni: string | null = null;
  let inspect = plan.inspect;
  if (flight.kind === 'tls') {
    const hello = flight.hello;
    if (hello.ech)
      edge.logger.info(
        { id: attempt.id, host: target.host },
        'ClientHello offers ECH; decided on the CONNECT name',
      );
    sni = hello.sni === null ? null : sniHost(hello.sni);
    if (hello.sni !== null && sni === null) sni = hello.sni; // unparseable: decided (and refused) below
    if (sni !== null && sni !== target.host) {
      const second = await decideSni(edge, attempt, target, sni, flight);
      if (second === 'refused') {
        if (upstream instanceof net.Socket) upstream.destroy();
        socket.destroy();
        return finish(403, flight.bytes.length, 0);
      }
      if (inspect) {
        const secondPlan = inspectionPlan(edge.config, true, profile, [
          { host: target.host, categories: verdict.decision.categories },
          { host: sni, categories: second.categories },
        ]);
        inspect = secondPlan.inspect;
      }
    }
  } else if (inspect) {
    // Plaintext inside a CONNECT: nothing to terminate; relayed as a tunnel decided on the CONNECT host.
    edge.logger.info(
      { id: attempt.id, host: target.host },
      'non-TLS bytes in an inspectable tunnel: relayed',
    );
    inspect = false;
  }

  if (inspect && edge.tls) {
    const ctx: TunnelContext = {
      tunnelId: attempt.id,
      clientIp: attempt.clientIp,
      proxyAuthorization: attempt.proxyAuthorization,
      connect: target,
      sni,
    };
    try {
      const { closed } = await intercept(edge.tls, socket, flight.bytes, ctx, {
        handshakeTimeoutMs: edge.config.tls.handshakeTimeoutMs,
        idleTimeoutMs: limits.tunnelIdleTimeoutMs,
        logger: edge.logger,
      });
      const outcome = await closed;
      return finish(200, outcome.bytesIn, outcome.bytesOut);
    } catch (err) {
      edge.logger.error({ err, id: attempt.id, host: target.host }, 'interception failed');
      socket.destroy();
      return finish(502, flight.bytes.length, 0);
    }
  }

  // A warned host may only be reached through its warn page, which needs inspection.
  if (verdict.kind === 'warn') {
    edge.logger.info({ id: attempt.id, host: target.host }, 'warned host cannot be inspected: closed');
    socket.destroy();
    return finish(403, flight.bytes.length, 0);
  }
  // A raw tunnel: connect now if the plan was to inspect (no upstream yet).
  let up = upstream;
  if (!(up instanceof net.Socket)) {
    const late = await upstreamFor();
    if (!(late instanceof net.Socket)) {
      socket.destroy();
      return finish(late === 'timeout' ? 504 : 502, flight.bytes.length, 0);
    }
    up = late;
  }
  tunnel(edge, socket, up, flight.bytes, finish);
}

/** The SNI names another host than the CONNECT: decide it too; refused → a block row 'sni-mismatch'. */
async function decideSni(
  edge: EdgeContext,
  connectAttempt: Attempt,
  connectTarget: Target,
  sni: string,
  flight: FirstFlight,
): Promise<{ categories: string[] } | 'refused'> {
  edge.logger.info(
    { id: connectAttempt.id, connect: connectTarget.host, sni, bytes: flight.bytes.length },
    'SNI differs from the CONNECT host: deciding both',
  );
  const attempt = edge.gatekeeper.newAttempt(
    connectAttempt.clientIp,
    'CONNECT',
    connectAttempt.proxyAuthorization,
  );
  let target: Target;
  try {
    target = parseConnectTarget(`${sni}:${connectTarget.port}`);
  } catch {
    await commitRow(edge, {
      ...auditEventFor(
        attempt,
        { host: safeHostOf(`x://${sni}`), port: connectTarget.port, scheme: 'https' },
        null,
        {
          action: 'reject',
          reason: 'bad-request:sni',
          status: null,
        },
      ),
      kind: 'tunnel',
    });
    return 'refused';
  }
  const verdict = await edge.gatekeeper.check(attempt, target, edge.config.tunnelPorts);
  if (verdict.kind === 'allow' || verdict.kind === 'warn') return { categories: verdict.decision.categories };
  await commitRow(edge, {
    ...auditEventFor(attempt, target, verdict, { action: 'block', reason: 'sni-mismatch', status: null }),
    kind: 'tunnel',
  });
  return 'refused';
}

function sniHost(raw: string): string | null {
  try {
    return normaliseHost(raw).host;
  } catch {
    return null;
  }
}

function complete(
  edge: EdgeContext,
  attempt: Attempt,
  status: number,
  bytesIn: number,
  bytesOut: number,
): void {
  edge.audit.complete(attempt.id, { status, bytesIn, bytesOut, durationMs: Date.now() - attempt.startedAt });
}

function tunnel(
  edge: EdgeContext,
  client: Duplex,
  upstream: net.Socket,
  first: Buffer,
  finish: (status: number, bytesIn: number, bytesOut: number) => void,
): void {
  let bytesIn = first.length;
  let bytesOut = 0;
  const idle = edge.config.limits.tunnelIdleTimeoutMs;
  const close = () => {
    client.destroy();
    upstream.destroy();
    finish(200, bytesIn, bytesOut);
  };
  client.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
  upstream.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
  for (const leg of [client, upstream] as const) {
    leg.on('error', close);
    leg.on('close', close);
  }
  (client as net.Socket).setTimeout?.(idle, close);
  upstream.setTimeout(idle, close);
  if (first.length > 0) upstream.write(first);
  client.pipe(upstream);
  upstream.pipe(client);
  client.resume();
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
