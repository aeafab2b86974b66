/**
 * The browser's side of an inspected tunnel: after `200 Connection Established` it completes a TLS handshake
 * over the same socket, trusting the school CA (as a school device with the CA installed does) and
 * verifying the leaf for the CONNECT host wherever that host can be verified: a DNS name by name (and sent
 * as SNI), an IP literal against the certificate's IP addresses. Spellings no browser would send (escapes,
 * numeric shorthands, IPv4-mapped IPv6) are checked against the CA only; the leaf's names are returned so
 * a test can still say which host the certificate is for.
 */
import net from 'node:net';
import tls from 'node:tls';
import { parseRaw, type RawResponse } from './raw-http.js';

export interface TunnelPeer {
  /** The CONNECT host as sent (brackets removed). */
  host: string;
  port: number;
  /** The Host header a browser sends inside the tunnel (the port only when it is not 443). */
  hostHeader: string;
  /** How the leaf is verified: by DNS name, by IP address, or against the CA only. */
  verify: 'dns-name' | 'ip' | 'ca-only';
  options: tls.ConnectionOptions;
}

/** A name a browser would verify as is: LDH labels, the last one not a number (that would be IPv4). */
function dnsName(host: string): string | null {
  const name = host.toLowerCase().replace(/\.$/, '');
  const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
  const labels = name.split('.');
  if (name.length > 253 || !labels.every((l) => label.test(l))) return null;
  if (/^(0x[0-9a-f]*|[0-9]+)$/i.test(labels.at(-1)!)) return null;
  return name;
}

/** An IP address in the form its certificate carries it (IPv6 compressed, lower case). */
export function canonicalIp(ip: string): string {
  return net.isIPv6(ip) ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

export function tunnelPeer(authority: string, ca: string): TunnelPeer {
  const bracketed = /^\[([^\]]*)\]:(\d+)$/.exec(authority);
  const colon = authority.lastIndexOf(':');
  const host = bracketed ? bracketed[1]! : authority.slice(0, colon);
  const port = Number(bracketed ? bracketed[2] : authority.slice(colon + 1));
  const hostPart = bracketed ? `[${host}]` : host;
  const hostHeader = port === 443 ? hostPart : `${hostPart}:${port}`;
  const base = { ca, ALPNProtocols: ['http/1.1'] };
  const name = dnsName(host);
  if (name !== null)
    return { host, port, hostHeader, verify: 'dns-name', options: { ...base, servername: name } };
  // IPv4 in dotted-quad form, or IPv6 that is not an IPv4-mapped address (the proxy decides those as IPv4).
  const ip = net.isIPv4(host) || (net.isIPv6(host) && !canonicalIp(host).startsWith('::ffff:'));
  // No servername: SNI never carries an address; Node verifies `host` against the IP SANs.
  if (ip) return { host, port, hostHeader, verify: 'ip', options: { ...base, host } };
  return {
    host,
    port,
    hostHeader,
    verify: 'ca-only',
    options: { ...base, host, checkServerIdentity: () => undefined },
  };
}

/** The names a leaf certificate is valid for: DNS names lower case, IP addresses canonical. */
export function leafNames(cert: tls.PeerCertificate): string[] {
  return (cert.subjectaltname ?? '')
    .split(/,\s*/)
    .filter((n) => n !== '')
    .map((n) =>
      n.startsWith('IP Address:') ? canonicalIp(n.slice('IP Address:'.length)) : n.replace(/^DNS:/, ''),
    )
    .map((n) => n.toLowerCase());
}

export interface Handshake {
  verify: TunnelPeer['verify'];
  /** Verified against the school CA (and the name, where it is verified by name). */
  authorized: boolean;
  leafNames: string[];
  issuer: string;
  alpn: string | false | null;
}

/** Starts TLS over an established tunnel; `secureConnect` means the leaf verified as `peer` says. */
export function tlsOverTunnel(socket: net.Socket, peer: TunnelPeer): tls.TLSSocket {
  return tls.connect({ ...peer.options, socket });
}

export function handshakeOf(secure: tls.TLSSocket, peer: TunnelPeer): Handshake {
  const cert = secure.getPeerCertificate();
  return {
    verify: peer.verify,
    authorized: secure.authorized,
    leafNames: leafNames(cert),
    issuer: [cert.issuer?.CN ?? ''].flat().join(', '),
    alpn: secure.alpnProtocol,
  };
}

export interface TunnelBrowse {
  /** The answer to the CONNECT. */
  connect: RawResponse;
  /** Set when the CONNECT was answered 200 and the handshake completed. */
  handshake?: Handshake;
  /** The handshake failed: why. */
  tlsError?: string;
  /** What came back inside the tunnel, read to close. */
  inner?: RawResponse;
}

/**
 * CONNECT `authority` as a browser does (extra request headers allowed, e.g. Proxy-Authorization); when
 * the answer is 200, TLS over the same socket and `GET / HTTP/1.1` with Host (or `request`), read to the close. Any other
 * answer is returned once the proxy closes. `timeoutMs` only stops a hung proxy (the result then says
 * "not closed").
 */
export function browseTunnel(
  proxyPort: number,
  authority: string,
  opts: {
    ca: string;
    headers?: string[];
    path?: string;
    /** Exact bytes to send inside the tunnel instead of `GET <path>` with Host (hostile inner requests). */
    request?: string;
    timeoutMs?: number;
  },
): Promise<TunnelBrowse> {
  const peer = tunnelPeer(authority, opts.ca);
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: proxyPort });
    let chunks: Buffer[] = [];
    const result: Partial<TunnelBrowse> = {};
    let secure: tls.TLSSocket | undefined;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      secure?.destroy();
      socket.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      if (result.connect === undefined) result.connect = parseRaw(raw, closed);
      else if (result.handshake) result.inner = parseRaw(raw, closed);
      resolve(result as TunnelBrowse);
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 5_000);
    const onRaw = (c: Buffer) => {
      chunks.push(c);
      const all = Buffer.concat(chunks);
      const headEnd = all.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const connect = parseRaw(all.subarray(0, headEnd + 4).toString('latin1'), false);
      if (connect.status !== 200) return; // a refusal: read it to the close
      result.connect = connect;
      socket.off('data', onRaw);
      socket.off('end', onRawEnd);
      socket.off('close', onRawEnd);
      socket.pause();
      const rest = all.subarray(headEnd + 4);
      if (rest.length > 0) socket.unshift(rest);
      chunks = [];
      secure = tlsOverTunnel(socket, peer);
      secure.once('secureConnect', () => {
        result.handshake = handshakeOf(secure!, peer);
        secure!.write(opts.request ?? `GET ${opts.path ?? '/'} HTTP/1.1\r\nHost: ${peer.hostHeader}\r\n\r\n`);
      });
      secure.on('data', (d: Buffer) => chunks.push(d));
      secure.on('end', () => finish(true));
      secure.on('close', () => finish(true));
      secure.on('error', (err) => {
        if (!result.handshake) result.tlsError = err.message;
        finish(true);
      });
    };
    const onRawEnd = () => finish(true);
    socket.on('data', onRaw);
    socket.on('end', onRawEnd);
    socket.on('close', onRawEnd);
    socket.on('error', onRawEnd);
    const headers = [`Host: ${authority}`, ...(opts.headers ?? [])];
    socket.write(`CONNECT ${authority} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`);
  });
}
