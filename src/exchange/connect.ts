/**
 * CONNECT host:port. Decided on its host (one row, kind 'tunnel'); then, once the client's first flight is
 * read, on its SNI name too (a disagreement is decided on both). The tunnel is:
 * - inspected when the host is allowed or warned, the profile inspects and nothing exempts it: TLS is
 *   terminated and every inner request is its own exchange (http.ts), decided on its full URL;
 * - opened only to show the block page over HTTPS when the host is blocked for an inspected profile
 *   (browsers never show a CONNECT response body): inner requests get the block page, nothing is forwarded;
 * - a raw tunnel otherwise (profile not inspected, never-inspect categories and hosts), decided on the host;
 * - refused at the CONNECT (403/407/400) when it is blocked and cannot be inspected, or refused outright.
 */
import { normaliseHost } from '../policy/host.js';
import { safeSearchHostMapping } from '../policy/safesearch.js';
import { isTargetError } from '../policy/target-error.js';
import { parseConnectTarget } from '../policy/target.js';
import type { Target } from '../policy/types.js';
import type { FirstFlight } from '../tls/client-hello.js';
import { errorBody } from './answers.js';
import type { Exchange } from './exchange.js';
import { CA_UNUSABLE, inspectionPlan, type InspectionPlan } from './inspection-plan.js';
import { allowedAction } from './pilot.js';
import { NON_ASCII } from './read-head.js';
import { safeHostOf } from './rows.js';
import type { PageAnswer, TunnelContext, Verdict } from './types.js';

/** Opens the upstream TCP connection of a raw tunnel (the adapter's socket, opaque here). */
export interface ConnectIo<U> {
  /** viaParent: open it through the parent proxy (upstream.proxy), `address` being the name. */
  connect(address: string, port: number, viaParent: boolean): Promise<U | 'timeout' | 'error'>;
}

export type ConnectStep<U> =
  /** Answer at the CONNECT and close; `discard` is an upstream connection to close unused. */
  | { kind: 'answer'; answer: PageAnswer; discard?: U }
  /** Row committed: answer 200 Connection Established, then read the first flight and call tunnelFlight. */
  | { kind: 'open'; tunnel: OpenTunnel<U> };

export type FlightStep<U> =
  /** Close both sides; the outcome is written. */
  { kind: 'close' } | { kind: 'intercept'; context: TunnelContext } | { kind: 'raw'; upstream: U };

type Opened = Extract<Verdict, { kind: 'allow' | 'warn' | 'block' }>;

export interface OpenTunnel<U> {
  target: Target;
  verdict: Opened;
  plan: InspectionPlan;
  /** Connected while the row was committed (raw tunnels only). */
  upstream: U | null;
  /** The SafeSearch host a raw tunnel connects to instead (profiles without inspection). */
  mapped: string | null;
}

export async function runConnect<U>(
  ex: Exchange,
  authority: string,
  io: ConnectIo<U>,
): Promise<ConnectStep<U>> {
  const page = { ...ex.pageTime(), reference: ex.id };
  let target: Target;
  try {
    target = parseConnectTarget(authority);
  } catch (err) {
    if (!isTargetError(err)) throw err;
    const seen = { host: safeHostOf(`x://${authority}`) };
    if (!ex.clientAllowed) return answer(await ex.refuseClient(seen, `https://${authority}/`));
    const rejected = await ex.reject(400, `bad-request:${err.reason}`, seen);
    return answer({ ...rejected, body: errorBody(400, page) });
  }

  const verdict = await ex.check(target, ex.env.ports.tunnel);
  const profile = 'identity' in verdict ? ex.snapshot.profiles.get(verdict.identity.profile) : undefined;
  const plan: InspectionPlan =
    verdict.kind === 'allow' || verdict.kind === 'warn' || verdict.kind === 'block'
      ? inspectionPlan(ex.snapshot.config, ex.env.inspectionReady, profile, [
          { host: target.host, categories: verdict.decision.categories },
        ])
      : { inspect: false, why: 'refused' };

  // Inspection wanted but impossible (the school CA expired or cannot be read): refused, never tunnelled raw.
  if (!plan.inspect && plan.why === CA_UNUSABLE && 'decision' in verdict) {
    const refusal = ex.row(target, verdict, { action: 'error', reason: 'SG_CA_UNUSABLE', status: 503 });
    ex.env.logger.error(
      { id: ex.id, host: target.host, code: 'SG_CA_UNUSABLE' },
      'HTTPS inspection is unusable (the school CA expired or cannot be read): tunnel refused (fail closed)',
    );
    const detail =
      'Secure sites cannot be filtered right now: the school certificate has expired or cannot be read, ' +
      'so the filter refuses them until IT renews it (SG_CA_UNUSABLE).';
    return answer(
      await ex.answerWith(refusal, {
        status: 503,
        body: errorBody(503, { ...page, host: target.host }, detail),
      }),
    );
  }
  // Refused at the CONNECT: the browser only sees the status. Warned and blocked hosts show their pages
  // over HTTPS when the tunnel can be inspected; a policy failure never opens a tunnel.
  const openable =
    verdict.kind === 'allow' ||
    (plan.inspect &&
      (verdict.kind === 'warn' ||
        (verdict.kind === 'block' && verdict.decision.rule.kind !== 'policy-error')));
  if (!openable)
    return answer(
      await ex.refuse(verdict as Exclude<Verdict, { kind: 'allow' }>, target, `https://${authority}/`),
    );
  const opened = verdict as Opened;

  // Profiles without inspection get SafeSearch by connecting to the engines' documented safe hosts.
  const mapped =
    !plan.inspect && profile
      ? safeSearchHostMapping(ex.snapshot.lists.endpoints, target.host, {
          safeSearch: profile.safeSearch ?? false,
          youtubeRestrict: profile.youtubeRestrict ?? 'off',
        })
      : null;
  const row = {
    ...ex.row(target, opened, {
      action: opened.kind === 'block' ? 'block' : opened.kind === 'allow' ? allowedAction(opened) : 'allow',
      reason: plan.inspect
        ? `${opened.kind === 'block' ? 'block-page' : 'inspect'}:${opened.decision.rule.kind}`
        : opened.decision.rule.kind,
      status: 200,
    }),
    ...(mapped ? { rewrites: [`host:${mapped}`] } : {}),
  };
  const tunnel: OpenTunnel<U> = { target, verdict: opened, plan, upstream: null, mapped };
  const [committed, upstream] = await Promise.all([
    ex.commit(row),
    plan.inspect ? Promise.resolve(null) : connectUpstream(ex, tunnel, io),
  ]);
  if (!committed) {
    const unavailable = answer(ex.unavailable());
    return upstream === null || isFailure(upstream) ? unavailable : { ...unavailable, discard: upstream };
  }
  if (isFailure(upstream)) {
    const status = upstream.failed === 'timeout' || upstream.failed === 'lookup-timeout' ? 504 : 502;
    ex.complete({ status, bytesIn: 0, bytesOut: 0 });
    return answer({ status, body: errorBody(status, { host: target.host, ...page }) });
  }
  tunnel.upstream = upstream;
  return { kind: 'open', tunnel };
}

/**
 * The client's first flight after 200: decide the SNI name when it differs, then intercept, show the block
 * page, relay raw, or close. Every path that closes writes the tunnel's outcome.
 */
export async function tunnelFlight<U>(
  ex: Exchange,
  tunnel: OpenTunnel<U>,
  flight: FirstFlight,
  io: ConnectIo<U>,
): Promise<FlightStep<U>> {
  const { target, verdict } = tunnel;
  const close = (status: number): FlightStep<U> => {
    ex.complete({ status, bytesIn: flight.bytes.length, bytesOut: 0 });
    return { kind: 'close' };
  };
  if (flight.kind === 'timeout' || flight.kind === 'closed' || flight.kind === 'malformed') {
    ex.env.logger.debug(
      { id: ex.id, host: target.host, first: flight.kind },
      'tunnel ended before a ClientHello',
    );
    return close(200);
  }
  const context = (sni: string | null, blocked?: Extract<Verdict, { kind: 'block' }>): TunnelContext => ({
    tunnelId: ex.id,
    clientIp: ex.clientIp,
    proxyAuthorization: ex.start.proxyAuthorization,
    connect: target,
    sni,
    ...(blocked ? { blocked } : {}),
  });
  if (verdict.kind === 'block') {
    // Opened only for the block page: a TLS client gets it (leaf for the CONNECT name); anything else closes.
    return flight.kind === 'tls' ? { kind: 'intercept', context: context(null, verdict) } : close(403);
  }

  let sni: string | null = null;
  let inspect = tunnel.plan.inspect;
  let warned = verdict.kind === 'warn';
  if (flight.kind === 'tls') {
    const hello = flight.hello;
    if (hello.ech)
      ex.env.logger.info(
        { id: ex.id, host: target.host },
        'ClientHello offers ECH; decided on the CONNECT name',
      );
    sni = hello.sni === null ? null : (sniHost(hello.sni) ?? hello.sni); // unparseable: decided (and refused) below
    if (sni !== null && sni !== target.host) {
      const second = await decideSni(ex, target, sni, flight.bytes.length);
      if (second === 'refused') return close(403);
      warned ||= second.warned;
      if (inspect) {
        const profile = ex.snapshot.profiles.get(verdict.identity.profile);
        inspect = inspectionPlan(ex.snapshot.config, ex.env.inspectionReady, profile, [
          { host: target.host, categories: verdict.decision.categories },
          { host: sni, categories: second.categories },
        ]).inspect;
      }
    }
  } else {
    // Not TLS (SSH, a VPN, plain HTTP, an SSLv2-format hello): nothing we could terminate or decide on. Only
    // TLS we terminate passes an inspectable tunnel; a tunnel that is not inspected may carry it only where
    // the profile says so.
    const profile = ex.snapshot.profiles.get(verdict.identity.profile);
    if (inspect || !profile?.tunnelNonTls) {
      await refuseNonTls(ex, target, flight.bytes);
      return close(403);
    }
  }
  if (inspect) return { kind: 'intercept', context: context(sni) };

  // A warned host (by its CONNECT name or its SNI) may only be reached through its warn page, which needs
  // inspection.
  if (warned) {
    ex.env.logger.info({ id: ex.id, host: target.host }, 'warned host cannot be inspected: closed');
    return close(403);
  }
  // A raw tunnel: connect now if the plan was to inspect (no upstream yet).
  const upstream = tunnel.upstream ?? (await connectUpstream(ex, tunnel, io));
  if (isFailure(upstream))
    return close(upstream.failed === 'timeout' || upstream.failed === 'lookup-timeout' ? 504 : 502);
  return { kind: 'raw', upstream };
}

/** Non-TLS bytes in a tunnel that may not carry them: a row of its own that says why, then the tunnel closes. */
async function refuseNonTls(connect: Exchange, target: Target, first: Buffer): Promise<void> {
  const ex = connect.sibling('CONNECT');
  connect.env.logger.info(
    { id: connect.id, host: target.host, first: first.subarray(0, 8).toString('hex') },
    'non-TLS bytes in a tunnel that may not carry them: closed',
  );
  const row = ex.row(target, null, { action: 'block', reason: 'non-tls-in-tunnel', status: 403 });
  await ex.commit({ ...row, user: null });
}

/** The SNI names another host than the CONNECT: decide it too (its own exchange); refused → a block row. */
async function decideSni(
  connect: Exchange,
  connectTarget: Target,
  sni: string,
  bytes: number,
): Promise<{ categories: string[]; warned: boolean } | 'refused'> {
  connect.env.logger.info(
    { id: connect.id, connect: connectTarget.host, sni, bytes },
    'SNI differs from the CONNECT host: deciding both',
  );
  const ex = connect.sibling('CONNECT');
  let target: Target;
  try {
    if (NON_ASCII.test(sni)) throw new Error('an SNI name is ASCII (RFC 6066: A-labels)');
    target = parseConnectTarget(`${sni}:${connectTarget.port}`);
  } catch {
    const seen = { host: safeHostOf(`x://${sni}`), port: connectTarget.port, scheme: 'https' as const };
    await ex.commit(ex.row(seen, null, { action: 'reject', reason: 'bad-request:sni', status: null }));
    return 'refused';
  }
  const verdict = await ex.check(target, ex.env.ports.tunnel);
  if (verdict.kind === 'allow' || verdict.kind === 'warn')
    return { categories: verdict.decision.categories, warned: verdict.kind === 'warn' };
  await ex.commit(ex.row(target, verdict, { action: 'block', reason: 'sni-mismatch', status: null }));
  return 'refused';
}

type Failure = { failed: 'timeout' | 'error' | 'not-found' | 'forbidden-address' | 'lookup-timeout' };

async function connectUpstream<U>(
  ex: Exchange,
  tunnel: OpenTunnel<U>,
  io: ConnectIo<U>,
): Promise<U | Failure> {
  const { target, verdict, mapped } = tunnel;
  let resolution =
    verdict.kind === 'allow' ? verdict.resolution : await ex.env.checks.resolver.resolve(target);
  if (mapped)
    resolution = await ex.env.checks.resolver.resolve({ ...target, host: mapped, hostKind: 'domain' });
  if (!resolution.ok) return { failed: resolution.reason };
  const socket = await io.connect(resolution.address, target.port, resolution.viaParent === true);
  if (socket === 'timeout') return { failed: 'timeout' };
  if (socket === 'error') return { failed: 'error' };
  return socket as U;
}

function isFailure<U>(value: U | Failure | null): value is Failure {
  return value !== null && typeof value === 'object' && 'failed' in (value as object);
}

/** The SNI as a canonical host; null when it is none (other bytes than ASCII have no one reading). */
function sniHost(raw: string): string | null {
  if (NON_ASCII.test(raw)) return null;
  try {
    return normaliseHost(raw).host;
  } catch {
    return null;
  }
}

function answer(page: PageAnswer): { kind: 'answer'; answer: PageAnswer } {
  return { kind: 'answer', answer: { ...page, close: true } };
}
