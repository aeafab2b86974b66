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
import { inAnyCidr, parseCidrs } from '../identity/address-map.js';
import { errorBody } from '../exchange/answers.js';
import { Exchange, ExchangeEvents, type ExchangeEnv, type PolicySnapshot } from '../exchange/index.js';
import { clientAddress, type EdgeContext, type EdgeStats } from './edge-context.js';
import { GrantStore } from './grants.js';
import { handleConnect, handleInnerConnect } from './handle-connect.js';
import { handleHttpRequest, inflight } from './handle-http.js';
import { handleUpgrade } from './handle-upgrade.js';
import { Resolver } from './resolve.js';
import { sendPage, writeRawAnswer } from './respond.js';
import { MAX_HEADERS } from './raw-checks.js';
import { closingSockets } from './respond.js';
import { TurnGate } from './turn-gate.js';
import { ClientConnectionLimit } from './client-limit.js';
import type { SchoolCa } from '../tls/ca.js';
import { closeTlsEdge, createTlsEdge, type TlsEdge } from './intercept/tls-edge.js';
import { tunnelContexts } from './intercept/intercept.js';
import { attachMetricsPage, isOwnTarget, type MetricsPage } from './own-pages.js';

export interface ProxyServerOptions {
  config: ReadonlyConfig;
  policy: () => PolicySnapshot;
  audit: AuditStore;
  identifier: Identifier;
  hostRoutes: ReadonlyMap<string, string>;
  tokenKey: Buffer;
  logger: Logger;
  now?: () => Date;
  /** The school CA: with it (and tls.inspect on) tunnels of inspecting profiles are intercepted. */
  ca?: SchoolCa | null;
  /** Subscribers register here (metrics, alerts); one is made when not given. */
  events?: ExchangeEvents;
}

export interface ProxyServer {
  readonly server: http.Server;
  readonly stats: EdgeStats;
  /** HTTPS inspection state (leaf certificates, upstream agent), or null when inspection is off. */
  readonly tls: TlsEdge | null;
  /** Every exchange's events: `decided`, `committed`, `completed`. */
  readonly events: ExchangeEvents;
  /** Serves these metrics at `/metrics` (admin networks only); until called, `/metrics` is 404. */
  serveMetrics(page: MetricsPage): void;
  listen(): Promise<AddressInfo>;
  /** Stops accepting, ends idle keep-alive connections, waits for the rest (bounded). */
  close(): Promise<void>;
}

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
  const stats: EdgeStats = { startedAt: Date.now(), requests: 0, tunnels: 0, openTunnels: 0 };
  const now = opts.now ?? (() => new Date());
  const clientNetworks = parseCidrs(config.clientNetworks);
  const adminNetworks = parseCidrs(config.admin.networks);
  let boundPort = config.listen.port;
  const tls: TlsEdge | null = opts.ca && config.tls.inspect ? createTlsEdge(config, opts.ca, now) : null;
  const events = opts.events ?? new ExchangeEvents(logger);
  const grants = new GrantStore();
  const env: ExchangeEnv = {
    policy: opts.policy,
    checks: {
      identifier: opts.identifier,
      resolver: new Resolver(opts.hostRoutes),
      grants,
      logger,
      isClientAllowed: (ip) => inAnyCidr(ip, clientNetworks),
    },
    audit: opts.audit,
    events,
    grants,
    tokenKey: opts.tokenKey,
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
    tls,
    stats,
    listenPort: () => boundPort,
    now,
    isAdmin: (ip) => inAnyCidr(ip, adminNetworks),
    held: new Set(),
  };

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
  if (tls) {
    // Inner requests of intercepted tunnels: the same handlers (they find their tunnel by socket).
    tls.inner.on('request', onRequest);
    tls.inner.on('checkContinue', onRequest);
    tls.inner.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      handleUpgrade(edge, req, socket, head).catch((err: unknown) => {
        logger.error({ err }, 'inner upgrade handler failed');
        socket.destroy();
      });
    });
    tls.inner.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
      handleInnerConnect(edge, req, socket).catch((err: unknown) => {
        logger.error({ err }, 'inner connect handler failed');
        socket.destroy();
      });
    });
    tls.inner.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      onClientError(edge, err, socket, timeouts).catch(() => socket.destroy());
    });
  }

  return {
    server,
    stats,
    tls,
    events,
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
    close: async () => {
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
      await Promise.all([serverClosed, allClosed(edge.held)]);
      clearTimeout(timer);
    },
  };
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
