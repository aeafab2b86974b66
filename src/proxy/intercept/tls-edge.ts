/**
 * The TLS side of the edge, built once by createProxyServer(): the leaf certificate store, the upstream
 * agent (verification ON against the system store + NODE_EXTRA_CA_CERTS + the config's extra CAs, plus the
 * browser policy of src/tls/upstream-policy.ts), and an
 * internal http.Server (never listening) that decrypted client sockets are fed into with
 * emit('connection') — mockttp's pattern — so inner requests are parsed by Node's own HTTP parser and go
 * through the same handler as plain HTTP.
 */
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { ReadonlyConfig } from '../../config/load.js';
import { LeafStore } from '../../tls/leaf-store.js';
import { LeafCertificates } from '../../tls/leaf.js';
import type { SchoolCa } from '../../tls/ca.js';
import { upstreamTrust } from '../../tls/trust.js';
import { checkUpstreamIdentity } from '../../tls/upstream-identity.js';
import { parentOf, parentTlsAgent } from '../parent.js';
import { MAX_HEADERS } from '../raw-checks.js';

export interface TlsEdge {
  /** The CA that signs leaves now (switchCa replaces it). */
  ca: SchoolCa;
  leaves: LeafCertificates;
  /** For inspected requests: TLS to the origin, verified. */
  upstreamAgent: https.Agent;
  /** The same, through the parent proxy (upstream.proxy); null without one. */
  parentAgent: https.Agent | null;
  /** Decrypted client connections are emitted into this server. */
  inner: http.Server;
}

export function createTlsEdge(config: ReadonlyConfig, ca: SchoolCa, now: () => Date): TlsEdge {
  const limits = config.limits;
  const inner = http.createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    maxHeaderSize: 16 * 1024,
    requireHostHeader: false, // a missing Host falls back to the SNI / CONNECT name
    joinDuplicateHeaders: false,
    insecureHTTPParser: false,
  });
  inner.maxHeadersCount = MAX_HEADERS + 1;
  const agentOptions: https.AgentOptions = {
    keepAlive: true,
    maxSockets: 256,
    maxFreeSockets: 64,
    timeout: 60_000,
    // One secure context built once: with `ca` instead, Node's https.Agent would put every CA's PEM into
    // each request's pool key (getName) and parse the whole list again for every new connection.
    secureContext: tls.createSecureContext({ ca: upstreamTrust(config.tls.extraCaFiles) }),
    rejectUnauthorized: true,
    // What browsers refuse and OpenSSL does not (a name only in the CN, RSA-1024), then Node's name check.
    checkServerIdentity: checkUpstreamIdentity,
    ALPNProtocols: ['http/1.1'],
  };
  const upstreamAgent = new https.Agent(agentOptions);
  const parent = parentOf(config.upstream.proxy);
  const parentAgent = parent && parentTlsAgent(parent, limits.connectTimeoutMs, agentOptions);
  const diskLeaves = config.tls.leafDiskCacheSize;
  const leaves = new LeafCertificates(ca, {
    validityDays: config.tls.leafValidityDays,
    cacheSize: config.tls.leafCacheSize,
    now,
    store: diskLeaves > 0 ? new LeafStore(path.join(config.dataDir, 'leaves'), diskLeaves) : null,
  });
  // Until the check answers (or if it fails), every host gets a full context: correct, only slower.
  void leaves.checkCertOnly();
  return { ca, leaves, upstreamAgent, parentAgent, inner };
}

/**
 * Signs new leaves with `ca` (an activated CA renewal): the leaf cache is emptied, so the next handshake of
 * every host gets a leaf chaining to `ca`. Tunnels open now keep the leaf they were given.
 */
export function switchCa(edge: TlsEdge, ca: SchoolCa): void {
  edge.ca = ca;
  edge.leaves.useCa(ca);
}

/** Ends the inner server's connections (on stop). */
export function closeTlsEdge(edge: TlsEdge): void {
  edge.inner.closeAllConnections();
  edge.upstreamAgent.destroy();
  edge.parentAgent?.destroy();
}

export type InnerSocket = Duplex;
