/**
 * A built list index on disk (issue 13: all of UT1 loaded in well under a second): the typed arrays of a
 * CategoryListsImage back to back in one file, with the little else (list sets, metadata, counts,
 * warnings, URL rule text) as JSON after them. Reading it is one read into one ArrayBuffer and views over
 * it: no per-entry parsing.
 *
 *   0   magic "SGLISTS\n"        8  format version (u32)     12 reserved
 *   16  total length (u64)       24 key (32 bytes, snapshot-key.ts)
 *   56  SHA-256 of bytes [0, 56) and [88, total)
 *   88  JSON offset (u32), JSON length (u32), then the arrays, each 8-aligned, then the JSON
 *
 * Little-endian header; the arrays are in the machine's order (the key holds the endianness). A file that
 * is short, long, of another version or whose checksum fails is "damaged" (the caller rebuilds and says
 * so); the checksum covers truncation, bit rot and an edit by hand. The decoded image is checked for
 * consistency too (ListIndex.checkImage), so even a forged file with a good checksum cannot make a lookup
 * run off its tables.
 *
 * The one buffer is a mapped one (src/policy/mapped-arrays.ts): the next reload frees it back to the
 * system whole.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { makePrivateDir, PRIVATE_FILE_MODE } from '../app/file-modes.js';
import { ListIndex } from '../policy/list-index.js';
import { mappedBuffer } from '../policy/mapped-arrays.js';
import type { CategoryListsImage } from '../policy/lists.js';
import type { CategoryCounts } from './load.js';
import { SNAPSHOT_VERSION } from './snapshot-key.js';

export const SNAPSHOT_FILE = 'index.snapshot';
const MAGIC = Buffer.from('SGLISTS\n', 'latin1');
const HEADER = 96;
const KEY_AT = 24;
const SUM_AT = 56;
const SUM_END = 88;
/** Temporary files left by a writer that died are removed after this long. */
const STALE_TMP_MS = 60 * 60 * 1000;

/** What a snapshot holds: the image the lists worker posts, and the load's counts and warnings. */
export interface SnapshotContent {
  image: CategoryListsImage;
  counts: Map<string, CategoryCounts>;
  warnings: string[];
}

export type SnapshotRead =
  | { state: 'used'; content: SnapshotContent }
  | { state: 'missing' | 'stale' }
  | { state: 'damaged'; why: string };

type ArrayRef = { $array: 'u8' | 'u32'; at: number; length: number };

/** The content as snapshot bytes: `bytes` is a view of the first `bytes.length` bytes of its buffer. */
export function encodeSnapshot(key: Uint8Array, content: SnapshotContent): Uint8Array<ArrayBuffer> {
  const arrays: { view: Uint8Array | Uint32Array; ref: ArrayRef }[] = [];
  let at = HEADER;
  const json = JSON.stringify(
    { image: content.image, counts: [...content.counts], warnings: content.warnings },
    (_key, value: unknown) => {
      if (!(value instanceof Uint8Array || value instanceof Uint32Array)) return value;
      const ref: ArrayRef = { $array: value instanceof Uint8Array ? 'u8' : 'u32', at, length: value.length };
      arrays.push({ view: value, ref });
      at = align8(at + value.byteLength);
      return ref;
    },
  );
  const jsonBytes = Buffer.from(json, 'utf8');
  const total = at + jsonBytes.length;
  const out = new Uint8Array(mappedBuffer(total), 0, total);
  for (const { view, ref } of arrays)
    out.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), ref.at);
  out.set(jsonBytes, at);
  const head = Buffer.from(out.buffer, 0, HEADER);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(SNAPSHOT_VERSION, 8);
  head.writeBigUInt64LE(BigInt(total), 16);
  head.set(key, KEY_AT);
  head.writeUInt32LE(at, SUM_END);
  head.writeUInt32LE(jsonBytes.length, SUM_END + 4);
  head.set(checksum(out), SUM_AT);
  return out;
}

/** The content of snapshot bytes whose key is `key`: 'stale' for another key, 'damaged' with a reason. */
export function decodeSnapshot(bytes: Uint8Array<ArrayBuffer>, key: Uint8Array): SnapshotRead {
  if (bytes.length < HEADER) return damaged(`it is ${bytes.length} bytes, shorter than its header`);
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, HEADER);
  if (!head.subarray(0, 8).equals(MAGIC)) return damaged('it does not start as a snapshot does');
  if (head.readUInt32LE(8) !== SNAPSHOT_VERSION) return { state: 'stale' };
  const total = head.readBigUInt64LE(16);
  if (total !== BigInt(bytes.length)) return damaged(`it is ${bytes.length} bytes, not the ${total} it says`);
  if (!Buffer.from(checksum(bytes)).equals(head.subarray(SUM_AT, SUM_END)))
    return damaged('its checksum does not match its bytes');
  if (!head.subarray(KEY_AT, SUM_AT).equals(key)) return { state: 'stale' };
  try {
    return { state: 'used', content: parseContent(bytes, head) };
  } catch (err) {
    return damaged(`its content is inconsistent (${(err as Error).message})`);
  }
}

/** Reads `<dir>/index.snapshot` if it exists (missing, stale and damaged are told apart). */
export function readSnapshot(dir: string, key: Uint8Array): SnapshotRead {
  let fd: number;
  try {
    fd = openSync(path.join(dir, SNAPSHOT_FILE), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    return damaged(`it cannot be opened (${(err as Error).message})`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return damaged('it is not a regular file');
    if (stats.size > 2 ** 32) return damaged(`it is ${stats.size} bytes, more than a snapshot can be`);
    const bytes = new Uint8Array(mappedBuffer(stats.size), 0, stats.size);
    let read = 0;
    for (let n; read < bytes.length && (n = readSync(fd, bytes, read, bytes.length - read, null)) > 0;)
      read += n;
    if (read !== bytes.length) return damaged(`it shrank while read (${read} of ${bytes.length} bytes)`);
    return decodeSnapshot(bytes, key);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes the snapshot as `<dir>/index.snapshot` (0600, in a 0700 folder) atomically: a temporary file,
 * synced, renamed over the old one. Several processes (serve --workers) may write at once; the last rename
 * wins and every one of them is a whole file.
 */
export function writeSnapshot(dir: string, bytes: Uint8Array): void {
  makePrivateDir(dir);
  removeStaleTemporaries(dir);
  const tmp = path.join(dir, `${SNAPSHOT_FILE}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fd = openSync(tmp, 'wx', PRIVATE_FILE_MODE);
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path.join(dir, SNAPSHOT_FILE));
}

function parseContent(bytes: Uint8Array<ArrayBuffer>, head: Buffer): SnapshotContent {
  const jsonAt = head.readUInt32LE(SUM_END);
  const jsonLength = head.readUInt32LE(SUM_END + 4);
  if (jsonAt < HEADER || jsonAt + jsonLength !== bytes.length) throw new Error('JSON out of place');
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(jsonAt));
  const parsed = JSON.parse(text, (_key, value: unknown) => {
    if (!isArrayRef(value)) return value;
    const width = value.$array === 'u8' ? 1 : 4;
    const offset = bytes.byteOffset + value.at;
    if (value.at < HEADER || value.at % 8 !== 0 || value.at + value.length * width > jsonAt)
      throw new Error('array out of place');
    return value.$array === 'u8'
      ? new Uint8Array(bytes.buffer, offset, value.length)
      : new Uint32Array(bytes.buffer, offset, value.length);
  }) as { image: CategoryListsImage; counts: [string, CategoryCounts][]; warnings: string[] };
  const { image, counts, warnings } = parsed;
  if (!Array.isArray(counts) || !Array.isArray(warnings) || !Array.isArray(image?.meta))
    throw new Error('missing parts');
  if (!Array.isArray(image.expressions)) throw new Error('no expressions');
  ListIndex.checkImage(image.index);
  return { image, counts: new Map(counts), warnings };
}

function isArrayRef(value: unknown): value is ArrayRef {
  if (typeof value !== 'object' || value === null || !('$array' in value)) return false;
  const v = value as ArrayRef;
  return (v.$array === 'u8' || v.$array === 'u32') && Number.isInteger(v.at) && Number.isInteger(v.length);
}

function checksum(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes.subarray(0, SUM_AT)).update(bytes.subarray(SUM_END)).digest();
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function damaged(why: string): SnapshotRead {
  return { state: 'damaged', why };
}

function removeStaleTemporaries(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(`${SNAPSHOT_FILE}.`) || !name.endsWith('.tmp')) continue;
    const file = path.join(dir, name);
    try {
      if (Date.now() - statSync(file).mtimeMs > STALE_TMP_MS) unlinkSync(file);
    } catch {
      // Another writer renamed or removed it meanwhile.
    }
  }
}
