/**
 * The exchange's vocabulary: what a transport adapter hands in (the request head it read) and the steps it
 * gets back (answer this page, serve an own page, forward, relay, tunnel). Values only: no sockets here, so
 * the exchange runs in table tests without a network.
 */
import type { Identity } from '../identity/identify-types.js';
import type { Decision, Target } from '../policy/types.js';
import type { Resolution } from '../proxy/resolve.js';

/** How the request reached the proxy. */
export type Transport =
  | 'http' // absolute-form request on the proxy port
  | 'connect' // CONNECT host:port
  | 'upgrade' // WebSocket upgrade on the proxy port
  | 'inner' // origin-form request inside an intercepted tunnel
  | 'inner-upgrade'; // WebSocket upgrade inside an intercepted tunnel

/** The audit row's kind for each transport. */
export const ROW_KIND: Record<Transport, 'request' | 'tunnel' | 'inspected'> = {
  http: 'request',
  upgrade: 'request',
  connect: 'tunnel',
  inner: 'inspected',
  'inner-upgrade': 'inspected',
};

/** What an intercepted tunnel's inner requests inherit from the CONNECT that opened it. */
export interface TunnelContext {
  /** The CONNECT's audit row id (the tunnel row). */
  tunnelId: string;
  clientIp: string;
  proxyAuthorization: string | undefined;
  /** The canonical CONNECT target. */
  connect: Target;
  /** The SNI name the client sent, normalised, or null. */
  sni: string | null;
  /**
   * Set when the CONNECT itself was blocked and the tunnel was opened only to show the block page over
   * HTTPS: every inner request gets that page (its own paths aside), nothing is ever forwarded.
   */
  blocked?: Extract<Verdict, { kind: 'block' }>;
}

export interface ExchangeStart {
  transport: Transport;
  clientIp: string;
  method: string;
  proxyAuthorization: string | undefined;
  /** Inner requests: the tunnel they arrived in. */
  tunnel?: TunnelContext;
  /** The client connection (socket, or the tunnel of an inner request): identity reuses its last lookup. */
  connection?: object;
  /** The X-Schoolgate-Selftest header of a plain request (checked against the open runs, never trusted). */
  selftestToken?: string | undefined;
}

/** Checks Node's parser does not make, found by the adapter on the raw head (raw-checks.ts). */
export interface RawFailure {
  status: 400 | 431 | 505;
  reason: string;
}

/** The request head as the adapter read it. */
export interface RequestHead {
  /** The request target exactly as received (absolute-form on the proxy port, origin-form inside a tunnel). */
  rawTarget: string;
  /** The Host header (first one), for origin-form requests. */
  hostHeader: string | undefined;
  rawFailure: RawFailure | null;
  /** Upgrade requests: the Upgrade header, lowercased. */
  upgrade?: string;
  /** The Content-Type header: a form posted to a known search or translate endpoint is read by it. */
  contentType?: string;
}

export type VerdictKind = Verdict['kind'];

export type Verdict =
  | { kind: 'refused' }
  | {
      kind: 'auth';
      reason: 'auth-required' | 'bad-credentials' | 'malformed-credentials' | 'directory-unavailable';
      /** The user name the credentials claimed (for the row's claimed_user; nobody is identified). */
      claimedUser: string | null;
      /** Refused by the failed-login throttle without checking the password: a 429, not a 407. */
      throttle?: { scope: 'address' | 'user' | 'busy'; retryAfterMs: number };
    }
  | { kind: 'port'; identity: Identity }
  | { kind: 'block'; identity: Identity; decision: Decision }
  | { kind: 'warn'; identity: Identity; decision: Decision; grantSite: string }
  | { kind: 'unreachable'; identity: Identity; decision: Decision; resolution: Resolution & { ok: false } }
  | {
      kind: 'allow';
      identity: Identity;
      decision: Decision;
      continued: boolean;
      /** Pilot mode (pilot.ts): let through, though enforce would have blocked or warned. */
      would?: 'block' | 'warn';
      resolution: Resolution & { ok: true };
    };

/** A page the proxy answers with (block, warn, error, redirect). */
export interface PageAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
  /** Close the client connection after the answer (errors, refusals). */
  close?: boolean;
}
