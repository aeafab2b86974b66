import { describe, expect, it } from 'vitest';
import { openWindows } from '../../../src/policy/time.js';
import type { TimeWindow } from '../../../src/policy/types.js';
import { profile } from './factories.js';

const lunch: TimeWindow = {
  name: 'lunchtime',
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  from: '12:00',
  to: '13:00',
  categories: { games: 'allow' },
};
const night: TimeWindow = {
  name: 'night',
  days: ['fri'],
  from: '22:00',
  to: '06:00',
  categories: { social: 'allow' },
};
const evening: TimeWindow = { name: 'evening', days: ['sun'], from: '18:00', to: '24:00', categories: {} };
const never: TimeWindow = { name: 'never', days: ['mon'], from: '10:00', to: '10:00', categories: {} };

describe('time windows open in the profile time zone', () => {
  const p = profile({ timeWindows: [lunch, night, evening, never] });
  const names = (iso: string, timeZone = 'Europe/London'): string[] =>
    openWindows({ ...p, timeZone }, new Date(iso)).map((w) => w.name);

  it.each([
    ['winter Monday 12:00 GMT is lunchtime (from is inclusive)', '2025-01-06T12:00:00Z', ['lunchtime']],
    ['winter Monday 12:59 GMT is lunchtime', '2025-01-06T12:59:00Z', ['lunchtime']],
    ['winter Monday 13:00 GMT is not (to is exclusive)', '2025-01-06T13:00:00Z', []],
    ['winter Monday 11:59 GMT is not', '2025-01-06T11:59:00Z', []],
    ['summer Monday 11:30 UTC is 12:30 BST: lunchtime', '2025-06-02T11:30:00Z', ['lunchtime']],
    ['summer Monday 12:30 UTC is 13:30 BST: not lunchtime', '2025-06-02T12:30:00Z', []],
    ['Saturday lunchtime is not a school day', '2025-01-11T12:30:00Z', []],
    ['Friday 23:00 is in the overnight window', '2025-01-10T23:00:00Z', ['night']],
    ['Saturday 05:59 is still in Friday night', '2025-01-11T05:59:00Z', ['night']],
    ['Saturday 06:00 is past it', '2025-01-11T06:00:00Z', []],
    ['Thursday 23:00 is not (window starts on Friday)', '2025-01-09T23:00:00Z', []],
    ['Sunday 23:59 is in a window to 24:00', '2025-01-12T23:59:00Z', ['evening']],
    ['a window with from = to is never open', '2025-01-06T10:00:00Z', []],
  ])('%s', (_name, iso, expected) => {
    expect(names(iso)).toEqual(expected);
  });

  it('reads the clock in another zone when the profile says so', () => {
    // 03:30 UTC on Monday is 12:30 in Tokyo.
    expect(names('2025-01-06T03:30:00Z', 'Asia/Tokyo')).toEqual(['lunchtime']);
  });

  it('a malformed clock time is an error (decideSafely turns it into a block)', () => {
    const bad = profile({ timeWindows: [{ ...lunch, from: '12.00' }] });
    expect(() => openWindows(bad, new Date('2025-01-06T12:00:00Z'))).toThrow(/HH:MM/);
  });
});
