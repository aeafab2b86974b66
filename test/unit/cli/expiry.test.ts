import { describe, expect, it } from 'vitest';
import { parseExpiry } from '../../../src/cli/expiry.js';

const NOW = Date.parse('2026-07-10T09:00:00Z'); // 10:00 in London (BST)

describe('--expires', () => {
  it.each<[string, string]>([
    ['90m', '2026-07-10T10:30:00.000Z'],
    ['12h', '2026-07-10T21:00:00.000Z'],
    ['14d', '2026-07-24T09:00:00.000Z'],
    ['2w', '2026-07-24T09:00:00.000Z'],
    // A bare day: through that day in the school's time zone (midnight BST = 23:00 UTC).
    ['2026-07-17', '2026-07-17T23:00:00.000Z'],
    ['2026-12-17', '2026-12-18T00:00:00.000Z'],
    ['2026-07-17T15:30', '2026-07-17T14:30:00.000Z'],
    ['2026-07-10', '2026-07-10T23:00:00.000Z'], // today: until tonight
  ])('%s ends at %s', (value, iso) => {
    expect(parseExpiry(value, NOW, 'Europe/London').toISOString()).toBe(iso);
  });

  it.each(['0d', 'soon', '2026-02-30', '2026-07-17T24:00', '-1d', '1y', '2026-07-09', '2026-07-10T09:59'])(
    '%s is refused',
    (value) => {
      expect(() => parseExpiry(value, NOW, 'Europe/London')).toThrow(/SG_ARGUMENT_INVALID|not/);
    },
  );
});
