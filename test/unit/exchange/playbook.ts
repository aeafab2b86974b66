/**
 * A playbook harness for the sans-IO exchange (src/exchange/), modelled on mitmproxy's layer tests: an
 * ExchangeEnv built by hand from real parts (Identifier over a real UserStore on a temp data dir, Resolver
 * with host routes so no name reaches DNS, GrantStore, ExchangeEvents, the fixture policy snapshot) and an
 * in-memory AuditStore that records rows and outcomes and can be switched to fail. Requests go in as
 * RequestHead values with fake io objects; steps and rows come out. No sockets.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { loadPolicy } from '../../../src/app/start.js';
import type { AuditEvent, AuditOutcome, AuditStore } from '../../../src/audit/types.js';
import type { ReadonlyConfig } from '../../../src/config/load.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import { SchoolgateError } from '../../../src/errors.js';
import {
  Exchange,
  ExchangeEvents,
  runConnect,
  runHttp,
  runUpgrade,
  tunnelFlight,
  type ConnectIo,
  type ConnectStep,
  type ExchangeEnv,
  type FlightStep,
  type HttpIo,
  type HttpStep,
  type PolicySnapshot,
  type RequestHead,
  type Transport,
  type TunnelContext,
  type UpgradeStep,
} from '../../../src/exchange/index.js';
import { inAnyCidr, parseCidrs } from '../../../src/identity/address-map.js';
import { Identifier } from '../../../src/identity/identify.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { SelftestProbes } from '../../../src/exchange/selftest-probes.js';
import { GrantStore } from '../../../src/proxy/grants.js';
import { isOwnTarget } from '../../../src/proxy/own-pages.js';
import { type LookupAll, Resolver } from '../../../src/proxy/resolve.js';
import type { FirstFlight } from '../../../src/tls/client-hello.js';
import { testConfig } from '../../helpers/schoolgate.js';

/** Client addresses: identity.networks map them to profiles; OUTSIDE is not in clientNetworks. */
export const PUPIL = '10.1.0.5';
export const STAFF = '10.2.0.7';
export const GUEST = '127.0.0.1';
export const OUTSIDE = '203.0.113.9';

/** The proxy's own port (isOwnTarget compares with it). */
export const PROXY_PORT = 3128;

/** A fixed clock for decisions, grants and tokens (a school-day morning in Europe/London). */
export const NOW = new Date('2026-03-02T10:00:00Z');

/** Every name the tests use is routed: the resolver never does a DNS lookup. */
export const ROUTES: Record<string, string> = {
  'allowed.test': '127.0.0.1',
  'other.test': '127.0.0.1',
  'social.test': '127.0.0.1',
  'facebook.com': '127.0.0.1',
  'www.facebook.com': '127.0.0.1',
  'www.youtube.com': '127.0.0.1',
  'video.test': '127.0.0.1',
  'blocked.example': '127.0.0.1',
  'bet.test': '127.0.0.1',
  'www.google.com': '127.0.0.1',
  'forcesafesearch.google.com': '127.0.0.2',
};

export const NETWORKS: ConfigInput['identity'] = {
  networks: [
    { cidr: '10.1.0.0/16', profile: 'pupil' },
    { cidr: '10.2.0.0/16', profile: 'staff' },
  ],
};

/** Records rows (as they were when committed) and outcomes; `failing` makes record() reject like the writer. */
export class MemoryAudit implements AuditStore {
  rows: AuditEvent[] = [];
  outcomes: { id: string; outcome: AuditOutcome }[] = [];
  failing = false;
  readonly queueDepth = 0;

  async record(event: AuditEvent): Promise<void> {
    if (this.failing) throw new SchoolgateError('SG_AUDIT_UNAVAILABLE', 'test: audit store is failing');
    this.rows.push(structuredClone(event));
  }

  complete(id: string, outcome: AuditOutcome): void {
    this.outcomes.push({ id, outcome });
  }

  async close(): Promise<void> {}

  row(id: string): AuditEvent | undefined {
    return this.rows.find((r) => r.id === id);
  }
}

export interface Harness {
  env: ExchangeEnv;
  config: ReadonlyConfig;
  snapshot: PolicySnapshot;
  audit: MemoryAudit;
  events: ExchangeEvents;
  grants: GrantStore;
  users: UserStore;
  tokenKey: Buffer;
}

const opened: UserStore[] = [];

/** Closes the state databases of every harness made so far (call in afterEach). */
export function closeHarnesses(): void {
  for (const users of opened.splice(0)) users.close();
}

export async function harness(
  opts: {
    config?: Partial<ConfigInput>;
    /**
     * false: HTTPS inspection is switched off (tls.inspect: false) unless the config says otherwise; with
     * tls.inspect on and inspectionReady false the school CA is unusable (expired) and tunnels fail closed.
     */
    inspectionReady?: boolean;
    /** Replaces the env's policy() (the snapshot switch test). */
    policy?: (loaded: PolicySnapshot) => () => PolicySnapshot;
    /** The name server for names not in ROUTES (DNS is off the machine); a timeout of 1 ms with it. */
    lookupAll?: LookupAll;
  } = {},
): Promise<Harness> {
  const inspectionOff = opts.inspectionReady === false && opts.config?.tls === undefined;
  const config = testConfig({
    identity: NETWORKS,
    ...(inspectionOff ? { tls: { inspect: false } } : {}),
    ...opts.config,
  });
  const loaded = await loadPolicy(config);
  const snapshot: PolicySnapshot = { config: loaded.config, lists: loaded.lists, profiles: loaded.profiles };
  const logger = pino({ level: 'silent' });
  const users = new UserStore(config.dataDir);
  opened.push(users);
  const identifier = new Identifier(config, users);
  const grants = new GrantStore();
  const audit = new MemoryAudit();
  const events = new ExchangeEvents(logger);
  const clientNetworks = parseCidrs(config.clientNetworks);
  const tokenKey = randomBytes(32);
  const env: ExchangeEnv = {
    policy: opts.policy ? opts.policy(snapshot) : () => snapshot,
    checks: {
      identifier,
      resolver: opts.lookupAll
        ? new Resolver(new Map(Object.entries(ROUTES)), opts.lookupAll, { timeoutMs: 1, maxInFlight: 2 })
        : new Resolver(new Map(Object.entries(ROUTES))),
      grants,
      logger,
      isClientAllowed: (ip) => inAnyCidr(ip, clientNetworks),
    },
    audit,
    events,
    grants,
    tokenKey,
    probes: new SelftestProbes(),
    logger,
    now: () => NOW,
    own: { isOwn: (target) => isOwnTarget(config, PROXY_PORT, target) },
    ports: { http: config.httpPorts, tunnel: config.tunnelPorts },
    inspectionReady: opts.inspectionReady ?? true,
  };
  return { env, config, snapshot, audit, events, grants, users, tokenKey };
}

export function exchange(
  h: Harness,
  transport: Transport,
  clientIp: string,
  method = 'GET',
  extra: { tunnel?: TunnelContext; proxyAuthorization?: string } = {},
): Exchange {
  return new Exchange(h.env, {
    transport,
    clientIp: extra.tunnel ? extra.tunnel.clientIp : clientIp,
    method,
    proxyAuthorization: extra.tunnel ? extra.tunnel.proxyAuthorization : extra.proxyAuthorization,
    ...(extra.tunnel ? { tunnel: extra.tunnel } : {}),
  });
}

/** What the fake io saw: how often each call was made. */
export interface IoCalls {
  readBody: number;
  readForm: number;
  closing: number;
}

export interface FakeBody {
  bytes: number;
  tag: 'body';
}

export function fakeHttpIo(
  opts: { hasBody?: boolean; form?: string | null; aborted?: boolean; bytes?: number } = {},
): { io: HttpIo<FakeBody>; calls: IoCalls } {
  const calls: IoCalls = { readBody: 0, readForm: 0, closing: 0 };
  const io: HttpIo<FakeBody> = {
    hasBody: opts.hasBody ?? false,
    readBody: async () => {
      calls.readBody++;
      return opts.aborted ? 'aborted' : { bytes: opts.bytes ?? 0, tag: 'body' };
    },
    readForm: async () => {
      calls.readForm++;
      return opts.form === undefined || opts.form === null ? null : new URLSearchParams(opts.form);
    },
    closing: () => {
      calls.closing++;
    },
  };
  return { io, calls };
}

/** The upstream "socket" a fake ConnectIo hands back: an opaque token. */
export interface Upstream {
  token: 'upstream';
  address: string;
  port: number;
}

export function fakeConnectIo(result: 'ok' | 'timeout' | 'error' = 'ok'): {
  io: ConnectIo<Upstream>;
  connects: { address: string; port: number }[];
} {
  const connects: { address: string; port: number }[] = [];
  return {
    connects,
    io: {
      connect: async (address, port) => {
        connects.push({ address, port });
        return result === 'ok' ? { token: 'upstream', address, port } : result;
      },
    },
  };
}

export function head(rawTarget: string, over: Partial<RequestHead> = {}): RequestHead {
  return { rawTarget, hostHeader: undefined, rawFailure: null, ...over };
}

/** One HTTP request through runHttp (proxy port, or inside `tunnel`). */
export async function http(
  h: Harness,
  clientIp: string,
  rawTarget: string,
  opts: {
    method?: string;
    host?: string;
    tunnel?: TunnelContext;
    over?: Partial<RequestHead>;
    io?: Parameters<typeof fakeHttpIo>[0];
    proxyAuthorization?: string;
  } = {},
): Promise<{ step: HttpStep<FakeBody>; ex: Exchange; calls: IoCalls }> {
  const ex = exchange(h, opts.tunnel ? 'inner' : 'http', clientIp, opts.method ?? 'GET', {
    ...(opts.tunnel ? { tunnel: opts.tunnel } : {}),
    ...(opts.proxyAuthorization ? { proxyAuthorization: opts.proxyAuthorization } : {}),
  });
  const { io, calls } = fakeHttpIo(opts.io);
  const step = await runHttp(ex, head(rawTarget, { hostHeader: opts.host, ...opts.over }), io);
  return { step, ex, calls };
}

/** One WebSocket upgrade through runUpgrade. */
export async function upgrade(
  h: Harness,
  clientIp: string,
  rawTarget: string,
  opts: { host?: string; tunnel?: TunnelContext; protocol?: string; over?: Partial<RequestHead> } = {},
): Promise<{ step: UpgradeStep; ex: Exchange }> {
  const ex = exchange(h, opts.tunnel ? 'inner-upgrade' : 'upgrade', clientIp, 'GET', {
    ...(opts.tunnel ? { tunnel: opts.tunnel } : {}),
  });
  const step = await runUpgrade(
    ex,
    head(rawTarget, { hostHeader: opts.host, upgrade: opts.protocol ?? 'websocket', ...opts.over }),
  );
  return { step, ex };
}

export async function connect(
  h: Harness,
  clientIp: string,
  authority: string,
  opts: { upstream?: 'ok' | 'timeout' | 'error'; proxyAuthorization?: string } = {},
): Promise<{
  step: ConnectStep<Upstream>;
  ex: Exchange;
  io: ConnectIo<Upstream>;
  connects: { address: string; port: number }[];
}> {
  const ex = exchange(h, 'connect', clientIp, 'CONNECT', {
    ...(opts.proxyAuthorization ? { proxyAuthorization: opts.proxyAuthorization } : {}),
  });
  const { io, connects } = fakeConnectIo(opts.upstream);
  const step = await runConnect(ex, authority, io);
  return { step, ex, io, connects };
}

export function tlsFlight(sni: string | null, ech = false): FirstFlight {
  return { kind: 'tls', hello: { sni, alpn: ['http/1.1'], ech }, bytes: Buffer.alloc(517, 0x16) };
}

export const PLAINTEXT_FLIGHT: FirstFlight = {
  kind: 'other',
  bytes: Buffer.from('GET http://blocked.example/ HTTP/1.1\r\nHost: blocked.example\r\n\r\n'),
};

/** CONNECT + first flight, expecting the tunnel to be intercepted: its context, for inner requests. */
export async function openTunnel(
  h: Harness,
  clientIp: string,
  authority: string,
  sni: string | null,
): Promise<{ context: TunnelContext; ex: Exchange; flight: FlightStep<Upstream> }> {
  const { step, ex, io } = await connect(h, clientIp, authority);
  if (step.kind !== 'open') throw new Error(`CONNECT ${authority} was not opened: ${step.answer.status}`);
  const flight = await tunnelFlight(ex, step.tunnel, tlsFlight(sni), io);
  if (flight.kind !== 'intercept')
    throw new Error(`CONNECT ${authority} was not intercepted: ${flight.kind}`);
  return { context: flight.context, ex, flight };
}

/** The audit fields the playbooks compare (undefined optional fields drop out of toEqual). */
export function summary(row: AuditEvent | undefined) {
  if (!row) return undefined;
  return {
    action: row.action,
    reason: row.reason,
    kind: row.kind,
    method: row.method,
    scheme: row.scheme,
    host: row.host,
    port: row.port,
    path: row.path,
    user: row.user,
    profile: row.profile,
    clientIp: row.clientIp,
    categories: row.categories,
    status: row.status,
    searchTerm: row.searchTerm,
    searchEngine: row.searchEngine,
    rewrites: row.rewrites,
    note: row.note,
  };
}

/** The hidden fields of a warn page's Continue form, as a browser would post them. */
export function warnFields(body: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of body.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"/g))
    fields[m[1]!] = unescapeHtml(m[2]!);
  return fields;
}

function unescapeHtml(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** One turn of the event loop: ExchangeEvents delivers on setImmediate, so its queue has drained after this. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
