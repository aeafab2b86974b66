import { createReadStream } from 'node:fs';
import { SchoolgateError } from '../errors.js';

/**
 * Calls onLine for every line of the files, read in order as ONE stream. Lists are big (UT1 adult has
 * ~4.6 million lines), so they are streamed in 64 KiB blocks rather than read whole, and lines are handed
 * over synchronously (no per-line promise). Several paths are joined byte for byte: mirrors split large
 * lists with `split -b 50M` (domains.0, domains.1, ...), so a line, or even one UTF-8 character, can
 * straddle two files. Line numbers count across the joined files. A trailing CR is dropped.
 *
 * A list file is text or it is refused: bytes that are not UTF-8, a NUL or another control character
 * (anything below 0x20 but TAB, LF and CR, and DEL) throw SG_LIST_FILE_INVALID naming the file and line,
 * before the caller has seen the rest of the file. A file of random bytes, an archive or a truncated
 * download is never half-loaded as if it were a shorter list.
 */
export async function forEachLine(
  paths: readonly string[],
  onLine: (line: string, lineNo: number) => void,
  /** Awaited after each block's lines: progress for the importer, and a pause point between blocks. */
  afterBlock?: () => void | Promise<void>,
): Promise<void> {
  // fatal: a malformed sequence throws instead of becoming U+FFFD; stream: a character split across two
  // blocks (or two chunk files) is held back until its last byte arrives.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const shown = shownName(paths);
  let carry = '';
  let lineNo = 0;
  const emit = (text: string): void => {
    const parts = (carry + text).split('\n');
    carry = parts.pop() ?? '';
    if (CONTROL.test(text)) throw controlError(shown, lineNo, parts, carry);
    for (const part of parts) onLine(part.endsWith('\r') ? part.slice(0, -1) : part, ++lineNo);
  };
  // The bytes of an unfinished character at the end of the last block (held by the decoder).
  let pending: Uint8Array = new Uint8Array(0);
  for (const path of paths) {
    // 64 KiB blocks: each block is parsed in one go, and a reload runs beside live traffic, so smaller
    // blocks keep the proxy's stalls short (measured: p99 stall 180 ms with 1 MiB, 28 ms with 64 KiB).
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 })) {
      const block = chunk as Buffer;
      let text: string;
      try {
        text = decoder.decode(block, { stream: true });
      } catch {
        throw utf8Error(shown, lineNo, concat(pending, block));
      }
      // Only the last three bytes matter, unless the block is shorter than that.
      pending = unfinishedTail(block.length >= 3 ? block : concat(pending, block));
      emit(text);
      if (afterBlock) await afterBlock();
    }
  }
  let rest: string;
  try {
    rest = decoder.decode();
  } catch {
    // The last character is cut short: the file ends in the middle of it.
    throw utf8Error(shown, lineNo, pending, pending.length);
  }
  emit(rest);
  if (carry !== '') onLine(carry.endsWith('\r') ? carry.slice(0, -1) : carry, ++lineNo);
}

/** Control characters a text list never holds: C0 but TAB, LF and CR; and DEL. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\x00-\x08\x0B-\x0C\x0E-\x1F\x7F]/;

/** Chunks of one split file are one logical file: errors name the first. */
function shownName(paths: readonly string[]): string {
  const first = paths[0] ?? '(no file)';
  return paths.length > 1 ? `${first} (+${paths.length - 1} chunks)` : first;
}

const NOT_TEXT_SUGGESTION =
  'A list file must be UTF-8 text, one entry a line. Replace it with a good copy (a download may have ' +
  'saved an archive, an error page in another encoding, or been cut short), or convert it to UTF-8.';

function controlError(file: string, linesBefore: number, parts: string[], carry: string): SchoolgateError {
  const lines = [...parts, carry];
  const index = lines.findIndex((l) => CONTROL.test(l));
  const char = CONTROL.exec(lines[index] ?? '')?.[0] ?? '\0';
  const code = char.charCodeAt(0);
  const byte = `0x${code.toString(16).padStart(2, '0')}`;
  const what = code === 0 ? `a NUL byte (${byte})` : `a control character (${byte})`;
  const line = linesBefore + index + 1;
  return new SchoolgateError(
    'SG_LIST_FILE_INVALID',
    `${file}:${line}: binary data, ${what}: not a text list`,
    {
      context: { file, line, byte },
      suggestion: NOT_TEXT_SUGGESTION,
    },
  );
}

/**
 * `bytes` (an unfinished character from the last block, then this block) fail to decode. The first bad
 * byte is found by bisection with the same decoder the reader uses, so "bad" means exactly what it means
 * above; only the error path pays for it.
 */
function utf8Error(
  file: string,
  linesBefore: number,
  bytes: Uint8Array,
  at = firstBadByte(bytes),
): SchoolgateError {
  // A character begun but not finished fails at the byte after it (`caf\xe9.` fails at the dot, `\xe9\n` at
  // the newline): name the byte that began it, on its own line.
  const pos = at - unfinishedTail(bytes.subarray(0, at)).length;
  let line = linesBefore + 1;
  for (let i = 0; i < pos; i++) if (bytes[i] === 0x0a) line++;
  const byte = `0x${(bytes[pos] ?? 0).toString(16).padStart(2, '0')}`;
  return new SchoolgateError('SG_LIST_FILE_INVALID', `${file}:${line}: not UTF-8 text (byte ${byte})`, {
    context: { file, line, byte },
    suggestion: NOT_TEXT_SUGGESTION,
  });
}

function decodes(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** The index of the byte whose addition first makes a prefix of `bytes` fail to decode. */
function firstBadByte(bytes: Uint8Array): number {
  let good = 0; // a prefix of this length decodes
  let bad = bytes.length; // a prefix of this length does not
  while (bad - good > 1) {
    const mid = (good + bad) >>> 1;
    if (decodes(bytes.subarray(0, mid))) good = mid;
    else bad = mid;
  }
  return bad - 1;
}

/** The bytes of a character begun but not finished at the end of `bytes` (at most 3). */
function unfinishedTail(bytes: Uint8Array): Uint8Array {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back for the lead
    const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return length > back ? bytes.slice(bytes.length - back) : new Uint8Array(0);
  }
  return new Uint8Array(0);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
