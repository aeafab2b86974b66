/**
 * A list file is text or it is refused: the line reader decodes strictly (UTF-8, no NUL or control bytes),
 * names the file and the line of the first bad byte, and still joins characters split across its 64 KiB
 * blocks and across split chunk files.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SchoolgateError } from '../../../src/errors.js';
import { forEachLine } from '../../../src/lists/read-lines.js';

const BLOCK = 1 << 16;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sg-read-lines-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, bytes: Buffer | string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, bytes);
  return p;
}

async function lines(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  await forEachLine(paths, (line, n) => {
    expect(n).toBe(out.length + 1);
    out.push(line);
  });
  return out;
}

async function refusal(paths: string[]): Promise<SchoolgateError> {
  return lines(paths).then(
    () => {
      throw new Error('expected the file to be refused');
    },
    (err: SchoolgateError) => err,
  );
}

/** Deterministic bytes that look random (a fixed-seed xorshift), so the test never depends on luck. */
function noise(length: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('reading list files as strict UTF-8 text', () => {
  it.each([1, 2, 3])(
    'joins a 4-byte character split %i byte(s) before a 64 KiB block boundary',
    async (before) => {
      const emoji = Buffer.from('😀.example', 'utf8'); // F0 9F 98 80 ...
      const padLine = 'a'.repeat(BLOCK - before - 1); // its newline ends at BLOCK - before
      const p = await file(
        'domains',
        Buffer.concat([Buffer.from(`${padLine}\n`), emoji, Buffer.from('\nbücher.example\n')]),
      );
      expect(await lines([p])).toEqual([padLine, '😀.example', 'bücher.example']);
    },
  );

  it('joins a character split across two chunk files', async () => {
    const word = Buffer.from('bücher.example\n', 'utf8');
    const cut = word.indexOf(0xc3) + 1; // between the two bytes of ü
    const a = await file('domains.0', Buffer.concat([Buffer.from('first.example\n'), word.subarray(0, cut)]));
    const b = await file('domains.1', word.subarray(cut));
    expect(await lines([a, b])).toEqual(['first.example', 'bücher.example']);
  });

  it('refuses a byte that is not UTF-8, naming the file and its line', async () => {
    const p = await file(
      'domains',
      Buffer.concat([Buffer.from('a.example\nb.example\nc'), Buffer.from([0xff]), Buffer.from('.example\n')]),
    );
    const err = await refusal([p]);
    expect(err.code).toBe('SG_LIST_FILE_INVALID');
    expect(err.message).toBe(`${p}:3: not UTF-8 text (byte 0xff)`);
    expect(err.context).toMatchObject({ file: p, line: 3 });
    expect(err.suggestion).toMatch(/UTF-8/);
  });

  it('finds the line of a bad byte in a later block, and of a lead byte cut short by a newline', async () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `host${i}.example`); // > 64 KiB
    const p = await file(
      'domains',
      Buffer.concat([
        Buffer.from(`${many.join('\n')}\nlatin`),
        Buffer.from([0xe9]),
        Buffer.from('\nok.example\n'),
      ]),
    );
    expect((await refusal([p])).message).toBe(`${p}:10001: not UTF-8 text (byte 0xe9)`);
  });

  it('refuses a file that ends in the middle of a character', async () => {
    const p = await file('domains', Buffer.concat([Buffer.from('a.example\nb'), Buffer.from([0xe2, 0x82])]));
    expect((await refusal([p])).message).toBe(`${p}:2: not UTF-8 text (byte 0xe2)`);
  });

  it('refuses a NUL byte even though it is valid UTF-8', async () => {
    const p = await file('domains', 'a.example\nb.example\nc.exa\0mple\n');
    const err = await refusal([p]);
    expect(err.code).toBe('SG_LIST_FILE_INVALID');
    expect(err.message).toBe(`${p}:3: binary data, a NUL byte (0x00): not a text list`);
  });

  it('refuses 4 KiB of random bytes before handing over a single line of them', async () => {
    const p = await file('domains', noise(4096));
    const seen: string[] = [];
    const err = await forEachLine([p], (l) => seen.push(l)).then(
      () => undefined,
      (e: SchoolgateError) => e,
    );
    expect(err?.code).toBe('SG_LIST_FILE_INVALID');
    expect(seen).toEqual([]);
  });

  it('accepts TAB, CR LF and a byte order mark', async () => {
    const p = await file('domains', '\ufeffa.example\r\nb.example\t# note\r\n');
    expect(await lines([p])).toEqual(['a.example', 'b.example\t# note']);
  });
});
