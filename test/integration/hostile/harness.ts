/**
 * Harness for the hostile-input suite: a loopback origin that counts every byte and connection it
 * receives (so "nothing forwarded" means nothing, not "no complete request"), a raw client that knows
 * when a response is complete, and read-only access to the audit rows written since a mark.
 */
import http from 'node:http';
import net from 'node:net';
import Database from 'better-sqlite3';

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
  /** Everything the proxy sent, latin1. */
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
    const chunks: Buffer[] = [];
    let closed = false;
    let done = false;
    let closeTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(closeTimer);
      if (!opts.keepOpen) socket.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      const { responses, partial } = parseResponses(raw, opts.connect === true);
      const finals = responses.filter((r) => r.status >= 200 || r.status === 0);
      const final = finals.at(-1) ?? partial;
      resolve({
        raw,
        responses,
        final,
        status: final?.status ?? 0,
        closed,
        elapsedMs: Date.now() - started,
        socket,
      });
    };
    const timer = setTimeout(finish, timeoutMs);
    const check = () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      const finals = parseResponses(raw, opts.connect === true).responses.filter((r) => r.status >= 200);
      if (finals.length >= wanted && closeTimer === undefined) {
        if (opts.keepOpen) return finish();
        const saysClose = /close/i.test(finals.at(-1)?.headers.connection ?? '');
        closeTimer = setTimeout(finish, opts.closeWaitMs ?? (saysClose ? 1_000 : 50));
      }
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      check();
    });
    const onClosed = () => {
      closed = true;
      finish();
    };
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
