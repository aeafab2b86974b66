/**
 * What every transport handler needs, built once by createProxyServer(). Handlers receive this object;
 * per-request state lives in an Attempt, never here.
 */
import type { Agent, IncomingMessage } from 'node:http';
import type HttpProxy from 'http-proxy';
import type { Logger } from 'pino';
import type { AuditEvent, AuditStore } from '../audit/types.js';
import type { ReadonlyConfig } from '../config/load.js';
import { isSchoolgateError } from '../errors.js';
import type { AnswerContext } from './answers.js';
import type { Attempt, Gatekeeper, PolicySnapshot } from './gatekeeper.js';
import type { GrantStore } from './grants.js';
import type { TlsEdge } from './intercept/tls-edge.js';
import type { Resolver } from './resolve.js';

export interface EdgeStats {
  startedAt: number;
  requests: number;
  tunnels: number;
  openTunnels: number;
}

export interface EdgeContext {
  config: ReadonlyConfig;
  gatekeeper: Gatekeeper;
  audit: AuditStore;
  policy: () => PolicySnapshot;
  grants: GrantStore;
  tokenKey: Buffer;
  logger: Logger;
  proxy: HttpProxy;
  agent: Agent;
  /** Name → checked address (the same Resolver the Gatekeeper uses; SafeSearch host mappings go through it). */
  resolver: Resolver;
  /** HTTPS inspection: null when there is no CA (inspection impossible) or it is switched off. */
  tls: TlsEdge | null;
  stats: EdgeStats;
  /** Port the server actually listens on (differs from config with port 0). */
  listenPort: () => number;
  now: () => Date;
}

export function answerContext(edge: EdgeContext): AnswerContext {
  return {
    timeZone: edge.config.timeZone,
    realm: edge.config.identity.realm,
    lists: edge.policy().lists,
    tokenKey: edge.tokenKey,
    warn: edge.config.warn,
    now: edge.now(),
  };
}

/**
 * Commits the row before the caller reveals the decision. Returns false when the audit store cannot take
 * it: the caller must then answer 503 (fail closed), never serve unlogged traffic.
 */
export async function commitRow(edge: EdgeContext, event: AuditEvent): Promise<boolean> {
  try {
    await edge.audit.record(event);
    return true;
  } catch (err) {
    if (!isSchoolgateError(err)) edge.logger.error({ err, id: event.id }, 'audit write failed');
    else edge.logger.warn({ code: err.code, id: event.id }, 'audit unavailable; refusing request');
    return false;
  }
}

/** The client's address as the policy sees it: IPv4-mapped IPv6 as plain IPv4. */
export function clientAddress(remote: string | undefined): string {
  if (!remote) return '';
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
}

/** The Attempt of a request arriving on the proxy port: its client address, method and proxy credentials. */
export function attemptOf(edge: EdgeContext, req: IncomingMessage): Attempt {
  const auth = req.headers['proxy-authorization'];
  return edge.gatekeeper.newAttempt(
    clientAddress(req.socket.remoteAddress),
    req.method ?? '',
    Array.isArray(auth) ? auth[0] : auth,
  );
}
