/**
 * The edge: one http.Server on the proxy port, with Node's parser limits set for a hostile network,
 * routing absolute-form requests, CONNECT and upgrades to their adapters, each of which drives an Exchange
 * (src/exchange/): the one place requests are decided, recorded and answered.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { AuditStore } from '../audit/types.js';
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError } from '../errors.js';
import type { Identifier } from '../identity/identify.js';
import { cidrMatcher } from '../identity/address-map.js';
import { errorBody } from '../exchange/answers.js';
import {
  Exchange,
  ExchangeEvents,
  SelftestProbes,
  type ExchangeEnv,
  type PolicySnapshot,
} from '../exchange/index.js';
import { clientAddress, type EdgeContext, type EdgeStats } from './edge-context.js';
import type { UnblockRequestStore } from '../state/unblock-requests.js';
import { GrantStore } from './grants.js';
import { handleConnect, handleInnerConnect } from './handle-connect.js';
import { handleHttpRequest, inflight } from './handle-http.js';
import { handleUpgrade } from './handle-upgrade.js';
import { parentOf } from './parent.js';
import { Resolver } from './resolve.js';
import { sendPage, writeRawAnswer } from './respond.js';
import { MAX_HEADERS } from './raw-checks.js';
import { closingSockets } from './respond.js';
import { TurnGate } from './turn-gate.js';
import { ClientConnectionLimit } from './client-limit.js';
import type { SchoolCa } from '../tls/ca.js';
import { closeTlsEdge, createTlsEdge, switchCa, type TlsEdge } from './intercept/tls-edge.js';
import { tunnelContexts } from './intercept/intercept.js';
import { attachMetricsPage, isOwnTarget, type MetricsPage } from './own-pages.js';
import { UserConnections } from './user-connections.js';

export interface ProxyServerOptions {
  config: ReadonlyConfig;
  policy: () => PolicySnapshot;
  audit: AuditStore;
  identifier: Identifier;
  hostRoutes: ReadonlyMap<string, string>;
  tokenKey: Buffer;
  logger: Logger;
  now?: () => Date;
  /**
   * The school CA: with it (and tls.inspect on) tunnels of inspecting profiles are intercepted; without one
   * (or expired) they are refused, never tunnelled raw.
   */
  ca?: SchoolCa | null;
  /** The staged next CA (`schoolgate ca renew`), published at /ca-next.crt for devices to install. */
  nextCa?: SchoolCa | null;
  /** Unblock requests from block pages (absent: block pages offer no unblock form). */
  requests?: UnblockRequestStore;
  /** Subscribers register here (metrics, alerts); one is made when not given. */
  events?: ExchangeEvents;
}

export interface ProxyServer {
  readonly server: http.Server;
  readonly stats: EdgeStats;
  /** HTTPS inspection state (leaf certificates, upstream agent), or null when off or without a usable CA. */
  readonly tls: TlsEdge | null;
  /** The staged next CA, or null. */
  readonly nextCa: SchoolCa | null;
  /** Whether a CONNECT that should be inspected can be now (a CA that signs and has not expired). */
  readonly inspectionReady: boolean;
  /**
   * The CA files as a reload read them: a new signing CA is switched in (leaf cache emptied); null keeps
   * the running one (its files could not be read: it still signs). What happened, for the reload's answer.
   */
  useCa(signing: SchoolCa | null, next: SchoolCa | null): CaSwitch;
  /** Every exchange's events: `decided`, `committed`, `completed`. */
  readonly events: ExchangeEvents;
  /** The open `schoolgate selftest` runs (begun and ended through the control socket). */
  readonly probes: SelftestProbes;
  /** Serves these metrics at `/metrics` (admin networks only); until called, `/metrics` is 404. */
  serveMetrics(page: MetricsPage): void;
  /**
   * Re-reads the users now (the CLI asks after `users disable`, `remove` and `passwd`, through the control
   * socket): connections of a revoked user are closed before this returns. Returns how many users were.
   */
  pollUsers(): number;
  listen(): Promise<AddressInfo>;
  /** Stops accepting, ends idle keep-alive connections, waits for the rest (bounded). */
  close(): Promise<void>;
  /** During close(): cut what is still open now instead of at the end of the grace (a second SIGTERM). */
  hurry(): void;
}

/**
 * What a reload did with the CA files: `switched` to a newly activated CA, `started` inspection with a CA
 * that was unusable until now, `unchanged`, `kept` the running CA (the files could not be read), the CA is
 * still `unusable`, or inspection is off.
 */
export type CaSwitch = 'switched' | 'started' | 'unchanged' | 'kept' | 'unusable' | 'inspection-off';

export function createProxyServer(opts: ProxyServerOptions): ProxyServer {
  const { config, logger } = opts;
  const limits = config.limits;
  const server = http.createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    maxHeaderSize: 16 * 1024,
    requireHostHeader: false, // absolute-form requests carry their target; Host is checked by us
    joinDuplicateHeaders: false,
    insecureHTTPParser: false,
  });
  server.maxConnections = limits.maxConnections;
  new ClientConnectionLimit(limits.maxConnectionsPerClient, logger).attach(server);
  server.maxHeadersCount = MAX_HEADERS + 1; // one more, so checkRawRequest can see the excess and refuse

  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 60_000 });
  const parent = parentOf(config.upstream.proxy);
  const stats: EdgeStats = { startedAt: Date.now(), requests: 0, tunnels: 0, openTunnels: 0 };
  const now = opts.now ?? (() => new Date());
  const clientAllowed = cidrMatcher(config.clientNetworks);
  const isAdmin = cidrMatcher(config.admin.networks);
  let boundPort = config.listen.port;
  let tls: TlsEdge | null = null;
  let nextCa = config.tls.inspect ? (opts.nextCa ?? null) : null;
  const events = opts.events ?? new ExchangeEvents(logger);
  const grants = new GrantStore();
  const probes = new SelftestProbes();
  const env: ExchangeEnv = {
    policy: opts.policy,
    checks: {
      identifier: opts.identifier,
      resolver: new Resolver(
        opts.hostRoutes,
        undefined,
        { timeoutMs: limits.dnsTimeoutMs, maxInFlight: 2 },
        parent !== null,
      ),
      grants,
      logger,
      isClientAllowed: clientAllowed,
    },
    audit: opts.audit,
    events,
    grants,
    tokenKey: opts.tokenKey,
    probes,
    ...(opts.requests ? { requests: opts.requests } : {}),
    logger,
    now,
    own: { isOwn: (target) => isOwnTarget(config, boundPort, target) },
    ports: { http: config.httpPorts, tunnel: config.tunnelPorts },
    // Read per CONNECT: a CA that expires while the proxy runs stops inspection (and fails closed) at once.
    get inspectionReady() {
      return tls !== null && tls.ca.notAfter.getTime() > now().getTime();
    },
  };
  const edge: EdgeContext = {
    config,
    env,
    audit: opts.audit,
    logger,
    agent,
    parent,
    tls,
    stats,
    listenPort: () => boundPort,
    now,
    isAdmin,
    held: new Set(),
    users: new UserConnections((user) => opts.identifier.isSignedIn(user), logger),
    nextCa: () => nextCa,
  };
  const stopRevocations = watchRevocations(opts.identifier, edge.users, logger);

  // Handlers never reject: anything unexpected is logged and answered, never a crash.
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handleHttpRequest(edge, req, res).catch((err: unknown) => {
      logger.error({ err }, 'request handler failed');
      sendPage(res, {
        status: 502,
        close: true,
        body: errorBody(502, { time: now(), timeZone: config.timeZone }),
      });
    });
  };
  server.on('request', onRequest);
  // With this listener Node no longer answers "Expect: 100-continue" by itself: the policy decides first,
  // so a blocked upload is refused before its body is asked for (request-body.ts sends 100 when allowed).
  server.on('checkContinue', onRequest);
  server.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    handleConnect(edge, req, socket, head).catch((err: unknown) => {
      logger.error({ err }, 'connect handler failed');
      socket.destroy();
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    handleUpgrade(edge, req, socket, head).catch((err: unknown) => {
      logger.error({ err }, 'upgrade handler failed');
      socket.destroy();
    });
  });
  // Timeouts come in herds: a few answered per turn (turn-gate.ts), the rest of the proxy served between.
  const timeouts = new TurnGate(TIMEOUTS_PER_TURN);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    onClientError(edge, err, socket, timeouts).catch(() => socket.destroy());
  });
  const startTls = (ca: SchoolCa): TlsEdge => {
    const made = createTlsEdge(config, ca, now);
    // Inner requests of intercepted tunnels: the same handlers (they find their tunnel by socket).
    made.inner.on('request', onRequest);
    made.inner.on('checkContinue', onRequest);
    made.inner.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      handleUpgrade(edge, req, socket, head).catch((err: unknown) => {
        logger.error({ err }, 'inner upgrade handler failed');
        socket.destroy();
      });
    });
    made.inner.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
      handleInnerConnect(edge, req, socket).catch((err: unknown) => {
        logger.error({ err }, 'inner connect handler failed');
        socket.destroy();
      });
    });
    made.inner.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      onClientError(edge, err, socket, timeouts).catch(() => socket.destroy());
    });
    tls = made;
    edge.tls = made;
    return made;
  };
  if (opts.ca && config.tls.inspect) startTls(opts.ca);

  let cutNow: (() => void) | undefined; // set while close() waits out the grace
  return {
    server,
    stats,
    get tls() {
      return tls;
    },
    get nextCa() {
      return nextCa;
    },
    get inspectionReady() {
      return env.inspectionReady;
    },
    useCa(signing, next) {
      if (!config.tls.inspect) return 'inspection-off';
      nextCa = next;
      if (!signing) return tls ? 'kept' : 'unusable';
      if (!tls) {
        startTls(signing);
        return 'started';
      }
      if (tls.ca.fingerprint256 === signing.fingerprint256) return 'unchanged';
      switchCa(tls, signing);
      return 'switched';
    },
    events,
    probes,
    serveMetrics: (page) => attachMetricsPage(edge, page),
    listen: () =>
      new Promise((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException) =>
          reject(
            new SchoolgateError(
              'SG_LISTEN_FAILED',
              `cannot listen on ${config.listen.host}:${config.listen.port}: ${err.code}`,
              {
                context: { host: config.listen.host, port: config.listen.port },
                suggestion:
                  err.code === 'EADDRINUSE'
                    ? 'another program (or another schoolgate) uses that port: stop it or choose --port'
                    : 'check --host/--port and that this user may bind that port',
                cause: err,
              },
            ),
          );
        server.once('error', onError);
        server.listen(config.listen.port, config.listen.host, () => {
          server.off('error', onError);
          const address = server.address() as AddressInfo;
          boundPort = address.port;
          resolve(address);
        });
      }),
    pollUsers: () => pollUsersSafely(opts.identifier, logger),
    hurry: () => cutNow?.(),
    close: async () => {
      stopRevocations();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      agent.destroy();
      if (tls) tls.inner.closeIdleConnections();
      // Requests in flight, downloads, tunnels and WebSockets get the grace period, then are cut. Each
      // writes its outcome as it closes; this resolves only when all have, so the audit store, closed
      // next, commits every outcome.
      const cut = () => {
        server.closeAllConnections();
        if (tls) closeTlsEdge(tls);
        for (const socket of edge.held) socket.destroy();
      };
      const timer = setTimeout(cut, limits.shutdownGraceMs);
      cutNow = () => {
        clearTimeout(timer);
        cut();
      };
      await Promise.all([serverClosed, allClosed(edge.held)]);
      clearTimeout(timer);
    },
  };
}

/** How often the users table is looked at for revocations when nobody asks (one PRAGMA data_version). */
const USER_POLL_MS = 2_000;

/**
 * Closes a revoked user's connections: on every revocation the identifier notices (on a request, on the
 * control socket's `users-changed`, or on this timer, so an idle tunnel does not wait for a request).
 */
function watchRevocations(identifier: Identifier, users: UserConnections, logger: Logger): () => void {
  const unsubscribe = identifier.onRevoked((r) => users.revoke(r));
  const timer = setInterval(() => pollUsersSafely(identifier, logger), USER_POLL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    unsubscribe();
  };
}

function pollUsersSafely(identifier: Identifier, logger: Logger): number {
  try {
    return identifier.pollUsers().length;
  } catch (err) {
    // The next request's identify() reads the same table and fails closed; this only delays the closing.
    logger.error({ err }, 'could not re-read the users table for revocations');
    return 0;
  }
}

/** Resolves once every held socket has closed (a socket's own close handlers, its outcome included, ran). */
async function allClosed(held: Set<Duplex>): Promise<void> {
  while (held.size > 0) {
    const [first] = held;
    await new Promise<void>((resolve) =>
      first!.destroyed && first!.closed ? resolve() : first!.once('close', () => resolve()),
    );
    held.delete(first!);
  }
  // An intercepted tunnel writes its outcome a few promise turns after its socket closed.
  await new Promise((resolve) => setImmediate(resolve));
}

/** Request timeouts answered and recorded per turn of the event loop (each is a row and a page). */
const TIMEOUTS_PER_TURN = 32;

/** Node's parser refused the bytes: answer with the matching status, record the attempt, close. */
async function onClientError(
  edge: EdgeContext,
  err: NodeJS.ErrnoException,
  socket: Duplex,
  timeouts: TurnGate,
): Promise<void> {
  // Already being answered (and closed) by a handler: the parser found the rest of that request.
  if (closingSockets.has(socket)) return;
  if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  // Node may report the same broken request once per chunk it reads: answer and record it once.
  closingSockets.add(socket);
  socket.pause();
  // Still answered and recorded if the client leaves while it waits: the row says it timed out.
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') await timeouts.next();
  const current = inflight.get(socket);
  if (current) {
    // The request line and headers were allowed and recorded; its body broke. Complete that row.
    current.complete({ status: 400, bytesIn: 0, bytesOut: 0 });
    return void socket.destroy();
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 408
        : err.code === 'HPE_URI_TOO_LONG'
          ? 414
          : 400;
  const tunnel = tunnelContexts.get(socket);
  const remote = (socket as { remoteAddress?: string }).remoteAddress;
  const ex = new Exchange(edge.env, {
    transport: tunnel ? 'inner' : 'http',
    clientIp: tunnel ? tunnel.clientIp : clientAddress(remote),
    method: '',
    proxyAuthorization: undefined,
    ...(tunnel ? { tunnel } : {}),
  });
  const reason = `bad-request:${(err.code ?? 'parse').toLowerCase()}`;
  const answer = await ex.reject(status, reason, { host: tunnel ? (tunnel.sni ?? tunnel.connect.host) : '' });
  writeRawAnswer(socket, answer);
}
