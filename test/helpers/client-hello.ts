/**
 * Builds TLS ClientHello flights byte by byte (RFC 8446 §4.1.2, RFC 6066 §3, RFC 7301 §3.1), so tests can
 * send exactly the structure they mean, well-formed or not, split over as many records as they like.
 */

export interface Extension {
  type: number;
  data: Buffer;
}

export interface HelloSpec {
  sessionId?: Buffer;
  ciphers?: number[];
  compression?: number[];
  /** undefined: no extensions block at all (an SSL 3.0-style hello). */
  extensions?: Extension[];
}

const u8 = (n: number) => Buffer.from([n & 0xff]);
const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u24 = (n: number) => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);

/** `bytes` behind a one-byte length. */
export const vec8 = (bytes: Buffer) => Buffer.concat([u8(bytes.length), bytes]);
/** `bytes` behind a two-byte length. */
export const vec16 = (bytes: Buffer) => Buffer.concat([u16(bytes.length), bytes]);

/** A server_name extension with these (name_type, name) entries; one host_name entry is the normal case. */
export function sniExtension(entries: { type?: number; name: Buffer | string }[]): Extension {
  const list = Buffer.concat(
    entries.map(({ type = 0, name }) => Buffer.concat([u8(type), vec16(Buffer.from(name))])),
  );
  return { type: 0, data: vec16(list) };
}

/** An application_layer_protocol_negotiation extension. */
export function alpnExtension(protocols: string[]): Extension {
  return { type: 16, data: vec16(Buffer.concat(protocols.map((p) => vec8(Buffer.from(p, 'latin1'))))) };
}

/** The handshake message: type 1, a three-byte length, the ClientHello body. */
export function clientHelloMessage(spec: HelloSpec): Buffer {
  const body = Buffer.concat([
    u16(0x0303), // legacy_version: TLS 1.2
    Buffer.alloc(32, 0xab), // random
    vec8(spec.sessionId ?? Buffer.alloc(32, 0x5e)),
    vec16(Buffer.concat((spec.ciphers ?? [0x1301, 0x1302, 0xc02f]).map(u16))),
    vec8(Buffer.from(spec.compression ?? [0])),
    spec.extensions === undefined
      ? Buffer.alloc(0)
      : vec16(Buffer.concat(spec.extensions.map((e) => Buffer.concat([u16(e.type), vec16(e.data)])))),
  ]);
  return Buffer.concat([u8(1), u24(body.length), body]);
}

/** The message in handshake records (type 22, version 3.1), cut after each of the given sizes. */
export function inRecords(message: Buffer, fragmentSizes: number[] = []): Buffer {
  const records: Buffer[] = [];
  let at = 0;
  for (const size of [...fragmentSizes, message.length]) {
    const fragment = message.subarray(at, Math.min(message.length, at + Math.max(1, size)));
    if (fragment.length === 0) break;
    records.push(Buffer.concat([u8(0x16), u16(0x0301), u16(fragment.length), fragment]));
    at += fragment.length;
  }
  return Buffer.concat(records);
}
