/**
 * Harness for the hostile-input suite: a loopback origin that counts every byte and connection it
 * receives (so "nothing forwarded" means nothing, not "no complete request"), a raw client that knows
 * when a response is complete (and, like a browser, carries on into TLS when a CONNECT is answered 200),
 * and read-only access to the audit rows written since a mark.
 */
import http from 'node:http';
import net from 'node:net';
import type tls from 'node:tls';
import Database from 'better-sqlite3';
import { afterAll, beforeAll } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import type { ReadonlyConfig } from '../../../src/config/load.js';
import { startTestProxy } from '../../helpers/schoolgate.js';
import { handshakeOf, tlsOverTunnel, tunnelPeer, type Handshake } from '../../helpers/tls-tunnel.js';

export interface OriginRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export interface CountingOrigin {
  port: number;
  /** TCP connections accepted (IPv4 and IPv6: the origin listens on the dual-stack wildcard when it can). */
  connections: number;
  /** Bytes received on any connection, parsed or not. */
  bytes: number;
  /** Requests whose head arrived (a request whose body later failed still counts). */
  started: OriginRequest[];
  /** Requests whose body arrived completely. */
  completed: OriginRequest[];
  close(): Promise<void>;
}

export const ORIGIN_TEXT = 'hostile-suite origin\n';

/** Listens on `::` (both families, so `[::1]` and `127.0.0.1` reach the same origin), else 127.0.0.1. */
export async function startCountingOrigin(): Promise<CountingOrigin> {
  const state = {
    connections: 0,
    bytes: 0,
    started: [] as OriginRequest[],
    completed: [] as OriginRequest[],
  };
  const server = http.createServer((req, res) => {
    const seen: OriginRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: '',
    };
    state.started.push(seen);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.body = Buffer.concat(chunks).toString();
      state.completed.push(seen);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-origin': 'yes' });
      res.end(ORIGIN_TEXT);
    });
  });
  server.on('connection', (socket: net.Socket) => {
    state.connections++;
    socket.on('data', (c: Buffer) => (state.bytes += c.length));
  });
  const listen = (host: string) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  try {
    await listen('::');
  } catch {
    await listen('127.0.0.1');
  }
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get connections() {
      return state.connections;
    },
    get bytes() {
      return state.bytes;
    },
    started: state.started,
    completed: state.completed,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A snapshot of what the origin has seen, to compare after an attack. */
export interface OriginMark {
  connections: number;
  bytes: number;
  started: number;
  completed: number;
}

export function markOrigin(origin: CountingOrigin): OriginMark {
  return {
    connections: origin.connections,
    bytes: origin.bytes,
    started: origin.started.length,
    completed: origin.completed.length,
  };
}

export function originDelta(origin: CountingOrigin, mark: OriginMark): OriginMark {
  return {
    connections: origin.connections - mark.connections,
    bytes: origin.bytes - mark.bytes,
    started: origin.started.length - mark.started,
    completed: origin.completed.length - mark.completed,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Raw client

export interface ParsedResponse {
  statusLine: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface Exchange {
  /**
   * Set when a CONNECT was answered 200 and the client carried on into the tunnel: that answer. Everything
   * else (raw, responses, status, closed) is then what came back inside the tunnel.
   */
  connect?: ParsedResponse;
  /** The tunnel's TLS handshake, when it completed. */
  handshake?: Handshake;
  /** The tunnel's TLS handshake failed: why. */
  tlsError?: string;
  /** Everything the proxy sent, latin1 (inside the tunnel: the decrypted bytes). */
  raw: string;
  /** Every complete response, interim (1xx) responses included, in order. */
  responses: ParsedResponse[];
  /** The last final (non-1xx) response, or the first incomplete head if nothing completed. */
  final: ParsedResponse | undefined;
  /** Status of `final`, 0 when nothing parsed. */
  status: number;
  /** The proxy closed (or reset) the connection. */
  closed: boolean;
  elapsedMs: number;
}

export interface TalkOptions {
  /** Final responses to wait for before finishing (pipelining). Default 1. */
  responses?: number;
  /**
   * After the wanted responses, wait this long for the proxy to close. Default: 1000 when the last response
   * says `Connection: close` (the close then follows at once), else 50.
   */
  closeWaitMs?: number;
  /** Give up after this long. Default 3000. */
  timeoutMs?: number;
  /** The request is CONNECT: a 2xx answer has no body. */
  connect?: boolean;
  /** Keep the socket open (returned) instead of destroying it when done. */
  keepOpen?: boolean;
  /**
   * With `connect`: when the answer is 200, carry on as a browser does: TLS over the same socket trusting
   * `ca` (the leaf verified for the CONNECT host, see tls-tunnel.ts), then `GET / HTTP/1.1` with Host, and
   * read the answer to the close. Without it a 200 ends the exchange.
   */
  tunnel?: { ca: string; authority: string };
}

/** The authority of a `CONNECT <authority> HTTP/1.x` request line, if the bytes start with one. */
export function connectAuthority(bytes: string | Buffer | (string | Buffer)[]): string | undefined {
  const first = Array.isArray(bytes) ? bytes[0] : bytes;
  const line = (typeof first === 'string' ? first : first?.toString('latin1')) ?? '';
  return /^CONNECT (\S+) HTTP\/1\.[01]\r?\n/.exec(line)?.[1];
}

/**
 * Sends exact bytes (strings are written as UTF-8) and reads until the wanted number of final responses is
 * complete and the server closed, `closeWaitMs` passed after that, or `timeoutMs` passed.
 */
export function talk(
  port: number,
  bytes: string | Buffer | (string | Buffer)[],
  opts: TalkOptions = {},
): Promise<Exchange & { socket: net.Socket }> {
  const wanted = opts.responses ?? 1;
  const timeoutMs = opts.timeoutMs ?? 3_000;
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    /** What is read from: the socket, or the TLS socket over it once inside a tunnel. */
    let stream: net.Socket | tls.TLSSocket = socket;
    let chunks: Buffer[] = [];
    let connectAnswer: ParsedResponse | undefined;
    let handshake: Handshake | undefined;
    let tlsError: string | undefined;
    let closed = false;
    let done = false;
    let closeTimer: NodeJS.Timeout | undefined;
    /** Parsed as a CONNECT answer until the client is inside the tunnel. */
    const connectMode = () => opts.connect === true && connectAnswer === undefined;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(closeTimer);
      if (!opts.keepOpen) {
        stream.destroy();
        socket.destroy();
      }
      const raw = Buffer.concat(chunks).toString('latin1');
      const { responses, partial } = parseResponses(raw, connectMode());
      const finals = responses.filter((r) => r.status >= 200 || r.status === 0);
      const final = finals.at(-1) ?? partial;
      resolve({
        ...(connectAnswer ? { connect: connectAnswer } : {}),
        ...(handshake ? { handshake } : {}),
        ...(tlsError !== undefined ? { tlsError } : {}),
        raw,
        responses,
        final,
        status: final?.status ?? 0,
        closed,
        elapsedMs: Date.now() - started,
        socket: stream,
      });
    };
    const timer = setTimeout(finish, timeoutMs);
    const onClosed = () => {
      closed = true;
      finish();
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      check();
    };
    const check = () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      const parsed = parseResponses(raw, connectMode()).responses;
      const finals = parsed.filter((r) => r.status >= 200);
      if (opts.tunnel && connectMode() && finals[0]?.status === 200) {
        // The answer's head is the last parsed; anything after it is the server's TLS (latin1: 1 char = 1 byte).
        let headEnd = 0;
        for (let i = 0; i < parsed.length; i++) headEnd = raw.indexOf('\r\n\r\n', headEnd) + 4;
        return enterTunnel(finals[0], Buffer.from(raw.slice(headEnd), 'latin1'), opts.tunnel);
      }
      if (finals.length >= wanted && closeTimer === undefined) {
        if (opts.keepOpen) return finish();
        const saysClose = /close/i.test(finals.at(-1)?.headers.connection ?? '');
        closeTimer = setTimeout(finish, opts.closeWaitMs ?? (saysClose ? 1_000 : 50));
      }
    };
    const enterTunnel = (answer: ParsedResponse, rest: Buffer, tunnel: { ca: string; authority: string }) => {
      connectAnswer = answer;
      chunks = [];
      socket.off('data', onData);
      socket.off('end', onClosed);
      socket.off('close', onClosed);
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      const peer = tunnelPeer(tunnel.authority, tunnel.ca);
      const secure = tlsOverTunnel(socket, peer);
      stream = secure;
      secure.once('secureConnect', () => {
        handshake = handshakeOf(secure, peer);
        secure.write(`GET / HTTP/1.1\r\nHost: ${peer.hostHeader}\r\n\r\n`);
      });
      secure.on('data', onData);
      secure.on('end', onClosed);
      secure.on('close', onClosed);
      secure.on('error', (err) => {
        if (!handshake) tlsError = err.message;
        onClosed();
      });
    };
    socket.on('data', onData);
    socket.on('end', onClosed);
    socket.on('close', onClosed);
    socket.on('error', onClosed);
    for (const part of Array.isArray(bytes) ? bytes : [bytes]) socket.write(part);
  });
}

/** Parses as many complete HTTP/1.x responses as `raw` holds; `partial` is a head without its body. */
export function parseResponses(
  raw: string,
  connect: boolean,
): { responses: ParsedResponse[]; partial: ParsedResponse | undefined } {
  const responses: ParsedResponse[] = [];
  let rest = raw;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) {
      const partial = rest.length > 0 ? parseHead(rest) : undefined;
      return { responses, partial: partial && partial.status > 0 ? partial : undefined };
    }
    const head = parseHead(rest.slice(0, headEnd));
    let after = rest.slice(headEnd + 4);
    if (head.status < 200 || (connect && head.status < 300) || head.status === 204 || head.status === 304) {
      responses.push(head);
      rest = after;
      if (connect && head.status >= 200) return { responses, partial: undefined };
      continue;
    }
    const length = head.headers['content-length'];
    if (length !== undefined) {
      const n = Number(length);
      if (after.length < n) return { responses, partial: head };
      head.body = after.slice(0, n);
      after = after.slice(n);
    } else if (/chunked/i.test(head.headers['transfer-encoding'] ?? '')) {
      const decoded = decodeChunked(after);
      if (decoded === undefined) return { responses, partial: head };
      head.body = decoded.body;
      after = decoded.rest;
    } else {
      // Body until close.
      head.body = after;
      after = '';
    }
    responses.push(head);
    rest = after;
    if (rest.length === 0) return { responses, partial: undefined };
  }
}

function decodeChunked(text: string): { body: string; rest: string } | undefined {
  let body = '';
  let at = 0;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(text.slice(at, lineEnd), 16);
    if (Number.isNaN(size)) return { body, rest: '' };
    at = lineEnd + 2;
    if (size === 0) {
      const end = text.indexOf('\r\n', at);
      if (end < 0) return undefined;
      return { body, rest: text.slice(end + 2) };
    }
    if (text.length < at + size + 2) return undefined;
    body += text.slice(at, at + size);
    at += size + 2;
  }
}

function parseHead(head: string): ParsedResponse {
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  return { statusLine, status, headers, body: '' };
}

// ---------------------------------------------------------------------------------------------------------
// Audit rows

export interface AuditRow {
  rowid: number;
  id: string;
  time_ms: number;
  username: string | null;
  profile: string | null;
  client_ip: string;
  method: string;
  scheme: string;
  host: string;
  port: number | null;
  path: string | null;
  categories: string;
  action: string;
  rule: string | null;
  reason: string;
  flagged: number;
  status: number | null;
  /** 'request', 'tunnel' (a CONNECT) or 'inspected' (a request inside an inspected tunnel). */
  kind: string;
  /** Set when the exchange's outcome (final status, bytes) was written. */
  completed_ms: number | null;
}

export class AuditReader {
  constructor(private readonly path: string) {}

  private query<T>(sql: string, ...params: unknown[]): T[] {
    const db = new Database(this.path, { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  }

  /** The highest rowid so far: rows after it belong to what the test does next. */
  mark(): number {
    return this.query<{ m: number | null }>('SELECT max(rowid) AS m FROM audit_events')[0]?.m ?? 0;
  }

  since(mark: number): AuditRow[] {
    return this.query<AuditRow>('SELECT rowid, * FROM audit_events WHERE rowid > ? ORDER BY rowid', mark);
  }
}

/** The reference the proxy prints on its pages (the audit row id). */
export function referenceIn(body: string): string | undefined {
  return /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/.exec(body)?.[1];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------------------
// A proxy in front of a counting origin, for a test file

export interface ProxyAndOrigin {
  origin: CountingOrigin;
  /** The origin's port. */
  P: number;
  sg: RunningSchoolgate;
  audit: AuditReader;
}

/**
 * Starts a counting origin and a proxy configured by `configFor(originPort)` before the file's tests, and
 * stops both after them. The fields are set once `beforeAll` ran.
 */
export function proxyWithOrigin(configFor: (P: number) => ReadonlyConfig): ProxyAndOrigin {
  const t = {} as ProxyAndOrigin;
  beforeAll(async () => {
    t.origin = await startCountingOrigin();
    t.P = t.origin.port;
    t.sg = await startTestProxy(configFor(t.P));
    t.audit = new AuditReader(t.sg.auditPath);
  });
  afterAll(async () => {
    await t.sg?.stop();
    await t.origin?.close();
  });
  return t;
}
