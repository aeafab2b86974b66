/** selftest's reading of an answer through the proxy: a 502/504 never passes a must-reach site (issue 14). */
import { describe, expect, it } from 'vitest';
import { proxyVerdict } from '../../../src/cli/commands/selftest.js';

describe('proxyVerdict', () => {
  it.each([
    ['must-reach', { status: 200, refused: false }, null],
    ['must-reach', { status: 404, refused: false }, null], // the site answered: the proxy let it through
    ['must-reach', { status: 403, refused: true }, 'proxy answered 403'],
    ['must-reach', { status: 502, refused: false }, 'the proxy could not reach the site (502)'],
    ['must-reach', { status: 503, refused: false }, 'the proxy refused: its audit log is unavailable (503)'],
    ['must-reach', { status: 504, refused: false }, 'the site did not answer the proxy in time (504)'],
    ['must-reach', { status: 0, refused: false, error: 'ECONNREFUSED' }, 'proxy: ECONNREFUSED'],
    ['category', { status: 403, refused: true }, null],
    ['category', { status: 200, refused: false }, 'proxy answered 200'],
    ['category', { status: 502, refused: false }, 'proxy answered 502'],
  ] as const)('%s %o → %s', (kind, answer, expected) => {
    expect(proxyVerdict(kind, answer)).toBe(expected);
  });
});
