/**
 * Formatters are built once per locale, option set and time zone: building one per page was what stalled
 * the proxy when 2,000 idle connections timed out together (2,000 error pages in one turn).
 */
import { describe, expect, it } from 'vitest';
import { cachedFormatCount, dateTimeFormat } from '../../src/intl-format.js';
import { formatClock, formatTime } from '../../src/proxy/pages/html.js';

describe('dateTimeFormat', () => {
  it('returns the same formatter for the same locale, options and zone, another for another zone', () => {
    const london = dateTimeFormat('en-GB', { timeZone: 'Europe/London', hour: '2-digit' });
    expect(dateTimeFormat('en-GB', { timeZone: 'Europe/London', hour: '2-digit' })).toBe(london);
    expect(dateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit' })).not.toBe(london);
    expect(dateTimeFormat('en-GB', { timeZone: 'Europe/London', minute: '2-digit' })).not.toBe(london);
    expect(dateTimeFormat('en-US', { timeZone: 'Europe/London', hour: '2-digit' })).not.toBe(london);
  });

  it('formats as a new formatter would', () => {
    const t = new Date(Date.UTC(2026, 6, 1, 13, 5, 9));
    const options: Intl.DateTimeFormatOptions = {
      timeZone: 'Europe/London',
      dateStyle: 'full',
      timeStyle: 'long',
    };
    expect(dateTimeFormat('en-GB', options).format(t)).toBe(
      new Intl.DateTimeFormat('en-GB', options).format(t),
    );
  });

  it('throws for an unknown time zone and caches nothing for it', () => {
    const before = cachedFormatCount();
    expect(() => dateTimeFormat('en-GB', { timeZone: 'Mars/Olympus_Mons' })).toThrow(RangeError);
    expect(cachedFormatCount()).toBe(before);
  });

  it('stays bounded however many zones are asked for', () => {
    for (const timeZone of Intl.supportedValuesOf('timeZone')) dateTimeFormat('en-GB', { timeZone });
    expect(Intl.supportedValuesOf('timeZone').length).toBeGreaterThan(256);
    expect(cachedFormatCount()).toBeLessThanOrEqual(256);
  });

  it('page times stay as they were, an unknown zone falling back to UTC', () => {
    const t = new Date(Date.UTC(2026, 2, 2, 14, 5, 9));
    expect(formatTime(t, 'Europe/London')).toBe('Monday, 2 March 2026 at 14:05:09 GMT');
    expect(formatClock(t, 'Nowhere/At_All')).toBe('14:05');
    expect(formatTime(t, 'Nowhere/At_All')).toBe(formatTime(t, 'UTC'));
  });
});
