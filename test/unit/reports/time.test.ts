import { describe, expect, it } from 'vitest';
import { dayKey, LocalClock, parsePeriod, parseWhen, zonedTimeToEpoch } from '../../../src/reports/time.js';

const TZ = 'Europe/London';
const NOW = Date.UTC(2026, 10, 22, 6, 45); // Sunday 22 November 2026, 06:45 GMT

describe('dates in the school time zone', () => {
  it.each([
    ['2026-11-01', false, Date.UTC(2026, 10, 1, 0, 0)],
    ['2026-11-01', true, Date.UTC(2026, 10, 2, 0, 0)],
    ['2026-07-01', false, Date.UTC(2026, 5, 30, 23, 0)], // BST: local midnight is 23:00 UTC the day before
    ['2026-07-01', true, Date.UTC(2026, 6, 1, 23, 0)],
    ['2026-07-01T09:30', false, Date.UTC(2026, 6, 1, 8, 30)],
    ['today', false, Date.UTC(2026, 10, 22, 0, 0)],
    ['today', true, Date.UTC(2026, 10, 23, 0, 0)],
    ['yesterday', false, Date.UTC(2026, 10, 21, 0, 0)],
    ['yesterday', true, Date.UTC(2026, 10, 22, 0, 0)],
    ['7d', false, NOW - 7 * 86_400_000],
    ['12h', false, NOW - 12 * 3_600_000],
    ['now', true, NOW],
  ])('%s (end=%s)', (value, end, expected) => {
    expect(parseWhen(value, TZ, NOW, end)).toBe(expected);
  });

  it('handles the days the clocks change: 29 March 2026 has 23 hours, 25 October 2026 has 25', () => {
    const spring = parsePeriod('2026-03-29', '2026-03-29', TZ, NOW);
    expect(spring.toMs - spring.fromMs).toBe(23 * 3_600_000);
    const autumn = parsePeriod('2026-10-25', '2026-10-25', TZ, NOW);
    expect(autumn.toMs - autumn.fromMs).toBe(25 * 3_600_000);
  });

  it('rejects impossible dates, empty periods and nonsense', () => {
    for (const bad of ['2026-02-30', '2026-13-01', '2026-11-01T25:00', 'last week', "x' OR 1=1 --", ''])
      expect(() => parseWhen(bad, TZ, NOW, false), bad).toThrow(/is not a date/);
    expect(() => parsePeriod('2026-11-05', '2026-11-01', TZ, NOW)).toThrow(/period is empty/);
  });

  it('gives local day and hour, also for zones with half-hour offsets', () => {
    const clock = new LocalClock(TZ);
    expect(clock.of(Date.UTC(2026, 6, 1, 23, 30))).toEqual({ day: '2026-07-02', hour: 0 });
    expect(clock.of(Date.UTC(2026, 11, 1, 23, 30))).toEqual({ day: '2026-12-01', hour: 23 });
    const india = new LocalClock('Asia/Kolkata');
    expect(india.of(Date.UTC(2026, 0, 1, 18, 29))).toEqual({ day: '2026-01-01', hour: 23 });
    expect(india.of(Date.UTC(2026, 0, 1, 18, 30))).toEqual({ day: '2026-01-02', hour: 0 });
    expect(dayKey(zonedTimeToEpoch(2026, 3, 29, TZ, 12), TZ)).toBe('2026-03-29');
  });
});
