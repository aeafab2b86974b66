/**
 * Typed arrays for big tables (the list index: host-table.ts, src/lists/snapshot-file.ts) whose memory goes
 * back to the system when they are dropped. glibc's malloc serves an allocation below its mmap threshold
 * from its heaps, and raises that threshold (up to 32 MiB) each time a mapped block is freed; so after a few
 * reloads a whole list index lived in the heaps, and freed there it stayed in RSS (70-135 MB kept over 5
 * reloads of UT1, issue 13). A buffer of at least 32 MiB is always mapped on its own and unmapped on free.
 * Only the bytes in use are ever touched, so the padding costs address space, not memory.
 */

/** glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit, and a page: allocations this big are always mapped. */
const MMAP_FLOOR = 32 * 1024 * 1024 + 4096;
/** Smaller arrays are not padded (small lists, profile entries, tests). */
const PAD_FROM = 1 << 20;

/** A zeroed buffer of `bytes` bytes (or more: padded as above when it is big). */
export function mappedBuffer(bytes: number): ArrayBuffer {
  return new ArrayBuffer(bytes >= PAD_FROM ? Math.max(bytes, MMAP_FLOOR) : bytes);
}

export function mappedBytes(length: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(mappedBuffer(length), 0, length);
}

export function mappedWords(length: number): Uint32Array<ArrayBuffer> {
  return new Uint32Array(mappedBuffer(length * 4), 0, length);
}
