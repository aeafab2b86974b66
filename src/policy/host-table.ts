/**
 * A set of host keys (normalised, so ASCII) with one 32-bit value each, held in three typed arrays instead
 * of a JS Map of strings: the entries back to back in one byte array (length, value, key bytes), an
 * open-addressing hash table of their offsets, and one tag byte per slot (8 bits of the key's hash). A
 * million hosts cost ~28 MB outside the JS heap (a Map of strings cost ~95 MB of heap and kept the garbage
 * collector busy with it), and a list reload frees them whole.
 *
 * Keys are hashed from their LAST character to their first (FNV-1a), so one right-to-left pass over a
 * request host yields the hash of every parent domain on the way: `a.b.example` probes `example`,
 * `b.example` and `a.b.example` in one walk, without slicing a string per label. A probe reads the tag
 * array (small, so mostly cached) and only on a tag match the entry itself; the cost is O(length of the
 * host) whatever the number of keys.
 *
 * An entry is named by its offset in the byte array (stable: entries are never moved or removed).
 */
import { lookupFastPath } from './lookup-fast-path.js';

import { mappedBytes, mappedWords } from './mapped-arrays.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const DOT = 0x2e;
/** Grow the slot table past this share of occupied slots (linear probing stays short below it). */
const MAX_LOAD = 0.75;
/** Bytes before an entry's key: its length (1), its value (4, little-endian). */
const HEADER = 5;
/** Longest key: a normalised host has at most 253 characters. */
const MAX_KEY = 255;

/**
 * A finished table's arrays and counters: posted from the worker thread that built it (lists-worker.ts)
 * with its three buffers transferred, so the main thread adopts them without a copy.
 */
export interface HostTableImage {
  bytes: Uint8Array<ArrayBuffer>;
  slots: Uint32Array<ArrayBuffer>;
  tags: Uint8Array<ArrayBuffer>;
  count: number;
}

export class HostTable {
  private bytes = new Uint8Array(1 << 12);
  private used = 0;
  /** Entry offset + 1 per slot; 0 = empty. */
  private slots = new Uint32Array(1 << 9);
  /** Per slot: 1-255 from the key's hash (a probe that misses seldom reads the entry); 0 = empty. */
  private tags = new Uint8Array(1 << 9);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The entry of `key`, added with `value` if it is new. */
  intern(key: string, value: number): number {
    const hash = finish(hashKey(key));
    const found = this.findFrom(key, 0, hash);
    if (found !== -1) return found;
    if (this.count + 1 > this.slots.length * MAX_LOAD) this.rehash(this.slots.length * 2);
    const entry = this.append(key, value);
    this.count++;
    this.place(entry, hash);
    return entry;
  }

  value(entry: number): number {
    const b = this.bytes;
    return (b[entry + 1]! | (b[entry + 2]! << 8) | (b[entry + 3]! << 16) | (b[entry + 4]! << 24)) >>> 0;
  }

  setValue(entry: number, value: number): void {
    const b = this.bytes;
    b[entry + 1] = value & 0xff;
    b[entry + 2] = (value >>> 8) & 0xff;
    b[entry + 3] = (value >>> 16) & 0xff;
    b[entry + 4] = value >>> 24;
  }

  /** The entry whose key is exactly `key`, or -1. */
  find(key: string): number {
    return this.findFrom(key, 0, finish(hashKey(key)));
  }

  /**
   * The entries that are `host` or a parent domain of it (label boundaries only), most specific first,
   * as pairs [entry, start of the matching suffix in host] pushed onto `out`.
   */
  suffixes(host: string, out: number[]): void {
    const count = labelSuffixes(host);
    // The walk holds the shortest suffix first; callers want the most specific first.
    for (let k = count - 1; k >= 0; k--) {
      const entry = this.findFrom(host, walkStarts[k]!, walkHashes[k]!);
      if (entry !== -1) out.push(entry, walkStarts[k]!);
    }
  }

  /** find() for a host that suffixes() is also asked about: the hash comes from the same shared walk. */
  findHost(host: string): number {
    const count = labelSuffixes(host);
    // The whole host is the walk's last suffix (a walk cut short at MAX_KEY labels never ends at 0).
    if (count === 0 || walkStarts[count - 1] !== 0) return this.find(host);
    return this.findFrom(host, 0, walkHashes[count - 1]!);
  }

  /** Drops the spare room of the byte array once nothing more will be added. */
  compact(): void {
    if (this.bytes.length === this.used) return;
    const exact = mappedBytes(this.used);
    exact.set(this.bytes.subarray(0, this.used));
    this.bytes = exact;
  }

  /** The arrays, compacted; the table must not be used after they are transferred. */
  image(): HostTableImage {
    this.compact();
    return { bytes: this.bytes, slots: this.slots, tags: this.tags, count: this.count };
  }

  /** The buffers to transfer with image(). */
  static buffers(image: HostTableImage): ArrayBuffer[] {
    return [image.bytes.buffer, image.slots.buffer, image.tags.buffer];
  }

  /** A table over another thread's arrays: taken as they are, not copied. */
  static adopt(image: HostTableImage): HostTable {
    const { bytes, slots, tags, count } = image;
    if (slots.length !== tags.length || (slots.length & (slots.length - 1)) !== 0 || count > slots.length)
      throw new Error('host table image is inconsistent');
    const table = new HostTable();
    table.bytes = bytes;
    table.used = bytes.length;
    table.slots = slots;
    table.tags = tags;
    table.count = count;
    return table;
  }

  /**
   * Throws unless the image is whole: arrays of the right kinds and sizes, `count` occupied slots and at
   * least one empty one (a probe always ends), every slot's entry inside `bytes`, every value below
   * `maxValue`. For images read from disk (src/lists/snapshot-file.ts): a forged file must not make a
   * lookup loop or read past its arrays.
   */
  static check(image: HostTableImage, maxValue: number): void {
    const { bytes, slots, tags, count } = image;
    if (!(bytes instanceof Uint8Array && slots instanceof Uint32Array && tags instanceof Uint8Array))
      throw new Error('host table arrays of the wrong kinds');
    if (slots.length !== tags.length || slots.length === 0 || (slots.length & (slots.length - 1)) !== 0)
      throw new Error('host table slots are not a power of two');
    if (!Number.isInteger(count) || count < 0 || count >= slots.length)
      throw new Error('host table count out of range');
    let occupied = 0;
    for (let slot = 0; slot < slots.length; slot++) {
      if ((tags[slot] === 0) !== (slots[slot] === 0)) throw new Error('host table tag without entry');
      if (tags[slot] === 0) continue;
      occupied++;
      const entry = slots[slot]! - 1;
      if (entry + HEADER > bytes.length || entry + HEADER + bytes[entry]! > bytes.length)
        throw new Error('host table entry out of range');
      const b = bytes;
      const value =
        (b[entry + 1]! | (b[entry + 2]! << 8) | (b[entry + 3]! << 16) | (b[entry + 4]! << 24)) >>> 0;
      if (value >= maxValue) throw new Error('host table value out of range');
    }
    if (occupied !== count) throw new Error('host table count does not match its slots');
  }

  /** Bytes held by the typed arrays (for benchmarks). */
  byteSize(): number {
    return this.bytes.byteLength + this.slots.byteLength + this.tags.byteLength;
  }

  private findFrom(text: string, start: number, hash: number): number {
    const { slots, tags } = this;
    const mask = slots.length - 1;
    const tag = tagOf(hash);
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const held = tags[slot]!;
      if (held === 0) return -1;
      if (held === tag && this.equals(slots[slot]! - 1, text, start)) return slots[slot]! - 1;
    }
  }

  /** Whether the entry's key equals text.slice(start). */
  private equals(entry: number, text: string, start: number): boolean {
    const bytes = this.bytes;
    const length = bytes[entry]!;
    if (length !== text.length - start) return false;
    const from = entry + HEADER;
    for (let i = 0; i < length; i++) if (bytes[from + i] !== text.charCodeAt(start + i)) return false;
    return true;
  }

  private append(key: string, value: number): number {
    if (key.length > MAX_KEY) throw new Error(`host key longer than ${MAX_KEY} characters`);
    const entry = this.used;
    const end = entry + HEADER + key.length;
    if (end > this.bytes.length) {
      // Mapped (mapped-arrays.ts): a reload's freed tables go back to the system, not to malloc's heaps.
      const grown = mappedBytes(Math.max(this.bytes.length * 2, end));
      grown.set(this.bytes);
      this.bytes = grown;
    }
    const bytes = this.bytes;
    for (let i = 0; i < key.length; i++) {
      const code = key.charCodeAt(i);
      // Normalised hosts are ASCII (punycode); anything else could never equal a request host anyway.
      if (code > 0x7f) throw new Error(`host key is not ASCII: ${JSON.stringify(key)}`);
      bytes[entry + HEADER + i] = code;
    }
    bytes[entry] = key.length;
    this.setValue(entry, value);
    this.used = end;
    return entry;
  }

  private place(entry: number, hash: number): void {
    const { slots, tags } = this;
    const mask = slots.length - 1;
    let slot = hash & mask;
    while (tags[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = entry + 1;
    tags[slot] = tagOf(hash);
  }

  /** A bigger slot table, every entry placed again (its hash recomputed from its key bytes). */
  private rehash(capacity: number): void {
    this.slots = mappedWords(capacity);
    this.tags = mappedBytes(capacity);
    const bytes = this.bytes;
    for (let entry = 0; entry < this.used; entry += HEADER + bytes[entry]!) {
      let hash = FNV_OFFSET;
      for (let i = entry + HEADER + bytes[entry]! - 1; i >= entry + HEADER; i--)
        hash = Math.imul(hash ^ bytes[i]!, FNV_PRIME);
      this.place(entry, finish(hash));
    }
  }
}

/**
 * The walk of the last host looked up: [start of the suffix, its finished hash] for every label suffix,
 * shortest first (the whole host last). Every table hashes the same way, so one request's lookups in the
 * deny list, the allow list, the exceptions and the categories share one pass over the host instead of
 * hashing it once per table. Callers read it before walking another host.
 */
let walkedHost: string | undefined;
let walkedCount = 0;
// A host has at most 127 labels (253 characters); a longer key's walk is cut short (it matches nothing).
const walkStarts = new Int32Array(MAX_KEY);
const walkHashes = new Uint32Array(MAX_KEY);

/** Walks `host` (or takes the last walk, when it was of the same host): the number of label suffixes. */
function labelSuffixes(host: string): number {
  if (host === walkedHost && lookupFastPath.enabled) return walkedCount;
  let count = 0;
  let hash = FNV_OFFSET;
  for (let i = host.length - 1; i >= 0 && count < MAX_KEY; i--) {
    hash = Math.imul(hash ^ host.charCodeAt(i), FNV_PRIME);
    if (i === 0 || host.charCodeAt(i - 1) === DOT) {
      walkStarts[count] = i;
      walkHashes[count++] = finish(hash);
    }
  }
  walkedHost = host;
  walkedCount = count;
  return count;
}

/** FNV-1a over the key's characters, last to first (the order suffixes() walks a host in). */
function hashKey(key: string): number {
  let hash = FNV_OFFSET;
  for (let i = key.length - 1; i >= 0; i--) hash = Math.imul(hash ^ key.charCodeAt(i), FNV_PRIME);
  return hash;
}

/** MurmurHash3's finaliser: spreads FNV's weak low bits, which pick the slot. */
function finish(hash: number): number {
  let h = hash;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The top 8 bits of the hash (the slot uses the low ones), never 0 (which marks an empty slot). */
function tagOf(hash: number): number {
  return hash >>> 24 || 1;
}
