/**
 * The block-page logo (branding.logoFile), read once when the policy loads (start, reload): at most
 * MAX_LOGO_BYTES, and an image by its first bytes (PNG, JPEG, GIF, WebP), whatever its name says. SVG is
 * refused: it can carry script and links, and a page that shows it would have to trust it.
 */
import { readFileSync, statSync } from 'node:fs';
import { SchoolgateError } from '../errors.js';
import type { Logo } from './pages/branding.js';

export const MAX_LOGO_BYTES = 64 * 1024;

const SIGNATURES: { type: string; test: (b: Buffer) => boolean }[] = [
  { type: 'image/png', test: (b) => b.subarray(0, 8).equals(Buffer.from('89504e470d0a1a0a', 'hex')) },
  { type: 'image/jpeg', test: (b) => b.subarray(0, 3).equals(Buffer.from('ffd8ff', 'hex')) },
  { type: 'image/gif', test: (b) => /^GIF8[79]a$/.test(b.subarray(0, 6).toString('latin1')) },
  {
    type: 'image/webp',
    test: (b) =>
      b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
  },
];

/** The image type of these bytes, or null when they are none of the four. */
export function imageTypeOf(bytes: Buffer): string | null {
  return SIGNATURES.find((s) => s.test(bytes))?.type ?? null;
}

function refuse(file: string, why: string): SchoolgateError {
  return new SchoolgateError('SG_LOGO_INVALID', `the logo ${file} ${why}`, {
    context: { path: file },
    suggestion: `use a PNG, JPEG, GIF or WebP file of at most ${MAX_LOGO_BYTES / 1024} KiB readable by schoolgate, or set branding.logoFile to null`,
  });
}

export function readLogo(file: string | null): Logo | null {
  if (file === null) return null;
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw refuse(file, 'cannot be read');
  }
  if (size > MAX_LOGO_BYTES) throw refuse(file, `is ${size} bytes, more than ${MAX_LOGO_BYTES}`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    throw refuse(file, 'cannot be read');
  }
  if (bytes.length > MAX_LOGO_BYTES) throw refuse(file, `is more than ${MAX_LOGO_BYTES} bytes`);
  const type = imageTypeOf(bytes);
  if (!type) throw refuse(file, 'is not a PNG, JPEG, GIF or WebP image (read from its first bytes)');
  return { type, bytes };
}
