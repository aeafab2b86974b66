/**
 * Reading a published checksum file (pure): md5sum / sha256sum / sha512sum output, one `HEX  name` (or
 * `HEX *name`, binary mode) a line, as UT1's MD5SUM.LST. The algorithm is told by the digest's length.
 * MD5 catches a download cut short or a mirror serving another file; the file's authenticity comes from
 * fetching both over HTTPS from the source's own server.
 */
export type ChecksumAlgorithm = 'md5' | 'sha256' | 'sha512';

const BY_LENGTH: Readonly<Record<number, ChecksumAlgorithm>> = { 32: 'md5', 64: 'sha256', 128: 'sha512' };

export interface PublishedChecksum {
  algorithm: ChecksumAlgorithm;
  hex: string;
}

/** The checksum published for `fileName` (compared by base name), or undefined when no line names it. */
export function checksumFor(text: string, fileName: string): PublishedChecksum | undefined {
  for (const raw of text.split('\n')) {
    const m = /^\s*([0-9a-fA-F]+)\s+\*?(\S+)\s*$/.exec(raw);
    if (!m) continue;
    const name = m[2]!.split('/').at(-1);
    const algorithm = BY_LENGTH[m[1]!.length];
    if (name === fileName && algorithm) return { algorithm, hex: m[1]!.toLowerCase() };
  }
  return undefined;
}

/** The file name a URL downloads (its last path segment). */
export function fileNameOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.split('/').at(-1) ?? '');
}
