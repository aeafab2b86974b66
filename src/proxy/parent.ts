/**
 * The parent (upstream) proxy, upstream.proxy: schools behind a local authority's filter must send their
 * traffic through it. schoolgate still decides, records and inspects first; only the last hop changes:
 *
 * - plain HTTP: the request goes to the parent in absolute form (`GET http://host/path`), keep-alive;
 * - a tunnel, an inspected request's TLS and a WebSocket: a `CONNECT host:port` to the parent, then the
 *   bytes (TLS to the origin, verified against the checked name as without a parent) through it.
 *
 * Names are not resolved locally when a parent is set (the parent resolves them; a school behind one often
 * has no outside DNS); IP literals are still checked against the forbidden ranges (src/proxy/resolve.ts).
 * A name routed by hostsFile / hosts goes straight to its address, never to the parent: a deliberate route
 * says where that host is.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import tls from 'node:tls';

export interface ParentProxy {
  host: string;
  port: number;
}

export function parentOf(url: string | null): ParentProxy | null {
  if (!url) return null;
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) };
}

/** `host:port` as a CONNECT authority and an absolute URL's authority (IPv6 bracketed). */
export function authority(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * A `CONNECT host:port` through the parent; the socket once it answers 2xx, 'timeout', or 'error' (a
 * refusal, a reset, a parent that cannot be reached).
 */
export function openParentTunnel(
  parent: ParentProxy,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<Socket | 'timeout' | 'error'> {
  return new Promise((resolve) => {
    const target = authority(host, port);
    const req = http.request({
      host: parent.host,
      port: parent.port,
      method: 'CONNECT',
      path: target,
      headers: { host: target },
      agent: false,
    });
    const timer = setTimeout(() => {
      req.destroy();
      resolve('timeout');
    }, timeoutMs);
    req.once('connect', (res, socket, head) => {
      clearTimeout(timer);
      const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300 && head.length === 0;
      if (!ok) {
        socket.destroy();
        return resolve('error');
      }
      // Until the caller takes the socket over, a reset must not crash the proxy.
      socket.on('error', () => socket.destroy());
      resolve(socket);
    });
    req.once('error', () => {
      clearTimeout(timer);
      resolve('error');
    });
    req.end();
  });
}

type CreateConnection = (
  options: tls.ConnectionOptions & { host: string; port: number },
  callback: (err: Error | null, socket?: Socket) => void,
) => undefined;

/** For http(s).request's `createConnection`: the request's connection is a tunnel through the parent. */
export function viaParentConnection(
  parent: ParentProxy,
  timeoutMs: number,
  secure: boolean,
): CreateConnection {
  return (options, callback) => {
    void openParentTunnel(parent, options.host, options.port, timeoutMs).then((socket) => {
      if (typeof socket === 'string')
        return callback(Object.assign(new Error(`parent proxy: ${socket}`), { code: 'EPARENT' }));
      callback(null, secure ? tls.connect({ ...options, socket }) : socket);
    });
    return undefined;
  };
}

/**
 * Keep-alive TLS to origins through the parent, for inspected requests: the same trust and identity checks
 * as the direct upstream agent (its options are passed in), over a CONNECT tunnel per connection.
 */
export function parentTlsAgent(
  parent: ParentProxy,
  timeoutMs: number,
  options: https.AgentOptions,
): https.Agent {
  const agent = new https.Agent(options);
  (agent as unknown as { createConnection: CreateConnection }).createConnection = viaParentConnection(
    parent,
    timeoutMs,
    true,
  );
  return agent;
}
