/**
 * What every transport adapter needs, built once by createProxyServer(). Adapters read and write bytes and
 * drive an Exchange (src/exchange/); per-request state lives in the exchange, never here.
 */
import type { ParentProxy } from './parent.js';
import type { Agent, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { AuditStore } from '../audit/types.js';
import type { ReadonlyConfig } from '../config/load.js';
import { Exchange, type ExchangeEnv, type Transport, type TunnelContext } from '../exchange/index.js';
import { SELFTEST_HEADER } from '../exchange/selftest-probes.js';
import type { SchoolCa } from '../tls/ca.js';
import type { TlsEdge } from './intercept/tls-edge.js';
import type { UserConnections } from './user-connections.js';

export interface EdgeStats {
  startedAt: number;
  requests: number;
  tunnels: number;
  openTunnels: number;
}

/**
 * Client sockets taken over from the HTTP server (CONNECT tunnels, WebSockets): Node's closeAllConnections()
 * does not reach them, so a stop cuts them from here once the grace period is over.
 */
export function holdUntilClosed(held: Set<Duplex>, socket: Duplex): void {
  held.add(socket);
  socket.once('close', () => held.delete(socket));
}

export interface EdgeContext {
  /** The config the proxy started with: listen address, limits, ports (restart-only settings). */
  config: ReadonlyConfig;
  env: ExchangeEnv;
  audit: AuditStore;
  logger: Logger;
  /** Keep-alive connections to origins (plain HTTP); inspected requests use tls.upstreamAgent. */
  agent: Agent;
  /** The parent proxy (upstream.proxy) allowed traffic goes through; null: straight to origins. */
  parent: ParentProxy | null;
  /**
   * HTTPS inspection: null when there is no usable CA (inspection impossible) or it is switched off. Set
   * later when a reload finds a usable CA; its CA is switched by a reload after `ca renew --activate`.
   */
  tls: TlsEdge | null;
  /** The staged next school CA (`schoolgate ca renew`), served at /ca-next.crt; null when none. */
  nextCa: () => SchoolCa | null;
  stats: EdgeStats;
  /** Port the server actually listens on (differs from config with port 0). */
  listenPort: () => number;
  now: () => Date;
  /** Who may read /metrics (admin networks). */
  isAdmin(clientIp: string): boolean;
  /** Tunnels and WebSockets open now (see holdUntilClosed). */
  held: Set<Duplex>;
  /** Client connections per signed-in user, closed when the user is revoked. */
  users: UserConnections;
}

/** The client's address as the policy sees it: IPv4-mapped IPv6 as plain IPv4. */
export function clientAddress(remote: string | undefined): string {
  if (!remote) return '';
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
}

/** A new exchange for a request on the proxy port (its client address, method and proxy credentials). */
export function exchangeOf(edge: EdgeContext, req: IncomingMessage, transport: Transport): Exchange {
  const auth = req.headers['proxy-authorization'];
  return new Exchange(edge.env, {
    transport,
    clientIp: clientAddress(req.socket.remoteAddress),
    method: req.method ?? '',
    proxyAuthorization: Array.isArray(auth) ? auth[0] : auth,
    selftestToken: firstHeader(req, SELFTEST_HEADER),
    connection: req.socket,
  });
}

/** A new exchange for a request inside an intercepted tunnel: the tunnel's client and credentials. */
export function innerExchangeOf(
  edge: EdgeContext,
  req: IncomingMessage,
  tunnel: TunnelContext,
  transport: Transport,
): Exchange {
  return new Exchange(edge.env, {
    transport,
    clientIp: tunnel.clientIp,
    method: req.method ?? '',
    proxyAuthorization: tunnel.proxyAuthorization,
    tunnel,
    connection: tunnel,
  });
}

export function firstHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
