/** COPY's text format for `store migrate` (src/audit/postgres/copy-in.ts): every value round-trips. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyLines, copyText } from '../../../src/audit/postgres/copy-in.js';

/** COPY's own reading of one text-format field (PostgreSQL's copyfrom rules for the escapes we write). */
function unescape(field: string): string | null {
  if (field === '\\N') return null;
  return field.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r' })[c] ?? c);
}

/** Strings made mostly of the characters COPY gives a meaning to, and some others. */
const field = fc.string({ unit: fc.constantFrom('\t', '\n', '\r', '\\', 'N', 'a', 'é', '✓'), maxLength: 12 });

describe('COPY text format', () => {
  it('writes null as \\N, and a backslash-N string so it is not read as null', () => {
    expect(copyText(null)).toBe('\\N');
    expect(copyText(undefined)).toBe('\\N');
    expect(copyText('\\N')).toBe('\\\\N');
    expect(copyText(42)).toBe('42');
  });

  it('any string survives: one field per column, one line per row', () => {
    fc.assert(
      fc.property(fc.array(fc.option(field), { minLength: 1, maxLength: 6 }), (row) => {
        const text = copyLines([row]);
        expect(text.endsWith('\n')).toBe(true);
        const body = text.slice(0, -1);
        expect(body).not.toMatch(/[\n\r]/);
        expect(body.split('\t').map(unescape)).toEqual(row);
      }),
    );
  });
});
