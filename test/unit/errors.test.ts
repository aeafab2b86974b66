/** Every error code is documented, and the documentation names no code that does not exist. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, renderError, SchoolgateError } from '../../src/errors.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const documented = [...doc.matchAll(/^## (SG_[A-Z_]+)$/gm)].map((m) => m[1]);

describe('error codes', () => {
  it.each(Object.keys(ERROR_CODES))('%s has a section in docs/errors.md', (code) => {
    expect(documented, `add a "## ${code}" section to docs/errors.md`).toContain(code);
  });

  it('docs/errors.md documents only codes that exist', () => {
    expect(documented.filter((code) => !(code! in ERROR_CODES))).toEqual([]);
  });

  it('renders the code, the message and what to do next', () => {
    const err = new SchoolgateError('SG_USER_UNKNOWN', 'no user named "x"', { suggestion: 'run users list' });
    expect(renderError(err)).toBe('error SG_USER_UNKNOWN: no user named "x"\n  what to do: run users list');
    expect(renderError(new Error('boom'))).toBe('error: boom');
  });
});
