/**
 * Reads the client's first TLS flight after `200 Connection Established`, before any handshake, so that the
 * intercept-or-tunnel decision can use the SNI (mockttp's analyzeAndMaybePassThroughTls; mitmproxy's
 * ClientHelloData). The bytes read are returned so the caller can hand them on unchanged (unshift them for
 * the TLS server, or write them upstream for a tunnel).
 */
import type { Duplex } from 'node:stream';

export interface ClientHello {
  /** server_name, lowercase, or null when the client sent none (IP literals, old clients). */
  sni: string | null;
  alpn: string[];
  /** An encrypted_client_hello extension was offered (the real name may be hidden; hostile-inputs C10). */
  ech: boolean;
}

export type FirstFlight =
  | { kind: 'tls'; hello: ClientHello; bytes: Buffer }
  /** Not a TLS handshake (plaintext in the tunnel, or garbage). */
  | { kind: 'other'; bytes: Buffer }
  | { kind: 'timeout' | 'closed' | 'malformed'; bytes: Buffer };

const MAX_HELLO = 64 * 1024;
const EXT_SNI = 0;
const EXT_ALPN = 16;
const EXT_ECH = 0xfe0d;

/** Parses a ClientHello from the bytes so far: 'more' when incomplete, null when it is not one. */
export function parseClientHello(buf: Buffer): ClientHello | 'more' | null {
  if (buf.length < 1) return 'more';
  if (buf[0] !== 0x16) return null;
  // Reassemble the handshake message from one or more records.
  const parts: Buffer[] = [];
  let offset = 0;
  let handshakeLength = -1;
  let have = 0;
  while (true) {
    if (buf.length < offset + 5) return 'more';
    if (buf[offset] !== 0x16 || buf[offset + 1] !== 0x03) return null;
    const recordLength = buf.readUInt16BE(offset + 3);
    if (recordLength === 0 || recordLength > 16_384 + 2048) return null;
    if (buf.length < offset + 5 + recordLength) return 'more';
    const fragment = buf.subarray(offset + 5, offset + 5 + recordLength);
    parts.push(fragment);
    have += fragment.length;
    offset += 5 + recordLength;
    if (handshakeLength < 0) {
      const first = Buffer.concat(parts);
      if (first.length < 4) continue;
      if (first[0] !== 0x01) return null; // not a ClientHello
      handshakeLength = first.readUIntBE(1, 3);
      if (handshakeLength > MAX_HELLO) return null;
    }
    if (have >= handshakeLength + 4) break;
  }
  const body = Buffer.concat(parts).subarray(4, handshakeLength + 4);
  try {
    return parseHelloBody(body);
  } catch {
    return null;
  }
}

/**
 * Strict where a lenient reading could differ from the server's: the SNI is exactly one non-empty ASCII
 * host_name in a list whose lengths add up (RFC 6066 §3), ALPN lengths add up (RFC 7301), no extension
 * appears twice and the extensions fill the message (RFC 8446 §4.1.2, §4.2). OpenSSL refuses such hellos
 * too, but a lenient server reading the first of two names while we read the last would be routed to a
 * name nobody decided on. Anything else malformed throws RangeError: the caller answers null.
 */
function parseHelloBody(b: Buffer): ClientHello {
  let p = 2 + 32; // client_version, random
  p += 1 + b.readUInt8(p); // session_id
  p += 2 + b.readUInt16BE(p); // cipher_suites
  p += 1 + b.readUInt8(p); // compression_methods
  const hello: ClientHello = { sni: null, alpn: [], ech: false };
  if (p > b.length) throw new RangeError('compression methods overrun');
  if (p === b.length) return hello; // no extensions block (allowed before TLS 1.3)
  const end = p + 2 + b.readUInt16BE(p);
  if (end !== b.length) throw new RangeError('extensions do not fill the message');
  p += 2;
  const seen = new Set<number>();
  while (p < end) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const data = b.subarray(p + 4, p + 4 + len);
    if (data.length !== len || p + 4 + len > end) throw new RangeError('extension overrun');
    if (seen.has(type)) throw new RangeError('extension repeated');
    seen.add(type);
    p += 4 + len;
    if (type === EXT_SNI) hello.sni = readServerName(data);
    else if (type === EXT_ALPN) hello.alpn = readAlpn(data);
    else if (type === EXT_ECH) hello.ech = true;
  }
  return hello;
}

/** server_name_list holding one host_name: type 0, a two-byte length, 1+ printable ASCII bytes. */
function readServerName(data: Buffer): string {
  if (data.length < 2 || data.readUInt16BE(0) !== data.length - 2) throw new RangeError('bad SNI list');
  if (data.length < 5 || data[2] !== 0) throw new RangeError('SNI is not one host_name');
  const nameLen = data.readUInt16BE(3);
  if (nameLen === 0 || 5 + nameLen !== data.length) throw new RangeError('SNI is not one host_name');
  const name = data.subarray(5);
  if (name.some((byte) => byte < 0x21 || byte > 0x7e)) throw new RangeError('SNI is not ASCII');
  return name.toString('latin1').toLowerCase();
}

/** protocol_name_list: one-byte lengths, none empty, that add up. */
function readAlpn(data: Buffer): string[] {
  if (data.length < 2 || data.readUInt16BE(0) !== data.length - 2) throw new RangeError('bad ALPN list');
  const protocols: string[] = [];
  for (let q = 2; q < data.length;) {
    const l = data[q]!;
    if (l === 0 || q + 1 + l > data.length) throw new RangeError('bad ALPN entry');
    protocols.push(data.subarray(q + 1, q + 1 + l).toString('latin1'));
    q += 1 + l;
  }
  return protocols;
}

/** Reads until a whole ClientHello (or something else) is seen; the socket is left paused. */
export function readFirstFlight(socket: Duplex, head: Buffer, timeoutMs: number): Promise<FirstFlight> {
  return new Promise((resolve) => {
    let bytes = head;
    let settled = false;
    const finish = (result: FirstFlight) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      resolve(result);
    };
    const check = () => {
      const parsed = parseClientHello(bytes);
      if (parsed === 'more') {
        if (bytes.length > MAX_HELLO) finish({ kind: 'malformed', bytes });
        return;
      }
      if (parsed === null) {
        finish(bytes[0] === 0x16 ? { kind: 'malformed', bytes } : { kind: 'other', bytes });
        return;
      }
      finish({ kind: 'tls', hello: parsed, bytes });
    };
    const onData = (chunk: Buffer) => {
      bytes = bytes.length ? Buffer.concat([bytes, chunk]) : chunk;
      check();
    };
    const onEnd = () => finish({ kind: 'closed', bytes });
    const timer = setTimeout(() => finish({ kind: 'timeout', bytes }), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    if (bytes.length) check();
    if (!settled) socket.resume();
  });
}
