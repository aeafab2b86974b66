/**
 * The digest's schedule as a pure function: the next local HH:MM on a weekday (or every day) in the
 * school's time zone, across the clock changes (Europe/London: last Sunday of March 01:00 GMT → 02:00 BST,
 * last Sunday of October 02:00 BST → 01:00 GMT; in 2026 the 29th of March and the 25th of October).
 */
import { describe, expect, it } from 'vitest';
import {
  nextRunAt,
  periodOf,
  previousRunAt,
  schedulesOf,
  type DigestSchedule,
} from '../../../src/alerts/digest/schedule.js';
import { formatLocal } from '../../../src/reports/time.js';

const LONDON = 'Europe/London';
const daily = (time: string): DigestSchedule => ({ kind: 'daily', time });
const weekly = (day: 'mon' | 'fri' | 'sun', time: string): DigestSchedule => ({ kind: 'weekly', day, time });

describe('nextRunAt', () => {
  const cases: [string, string, DigestSchedule, string, string][] = [
    // [what, after (UTC), schedule, zone, expected (UTC)]
    [
      'daily, the Saturday before BST starts',
      '2026-03-28T12:00:00Z',
      daily('07:30'),
      LONDON,
      '2026-03-29T06:30:00Z',
    ],
    [
      'daily, exactly at a run: the next day',
      '2026-03-29T06:30:00Z',
      daily('07:30'),
      LONDON,
      '2026-03-30T06:30:00Z',
    ],
    [
      'daily, a millisecond before a run',
      '2026-03-29T06:29:59.999Z',
      daily('07:30'),
      LONDON,
      '2026-03-29T06:30:00Z',
    ],
    [
      'daily 01:30 falls in the spring gap: runs at 02:30 BST',
      '2026-03-28T12:00:00Z',
      daily('01:30'),
      LONDON,
      '2026-03-29T01:30:00Z',
    ],
    [
      'daily 01:30 after the gap day: 01:30 BST',
      '2026-03-29T01:30:00Z',
      daily('01:30'),
      LONDON,
      '2026-03-30T00:30:00Z',
    ],
    [
      'weekly Monday, from the Sunday BST starts',
      '2026-03-29T00:00:00Z',
      weekly('mon', '07:30'),
      LONDON,
      '2026-03-30T06:30:00Z',
    ],
    [
      'weekly Monday, a minute before (GMT)',
      '2026-03-23T07:29:00Z',
      weekly('mon', '07:30'),
      LONDON,
      '2026-03-23T07:30:00Z',
    ],
    [
      'weekly Monday, at the run: a week less an hour later',
      '2026-03-23T07:30:00Z',
      weekly('mon', '07:30'),
      LONDON,
      '2026-03-30T06:30:00Z',
    ],
    [
      'weekly Monday, Sunday 23:30 UTC is already Monday in London',
      '2026-03-29T23:30:00Z',
      weekly('mon', '07:30'),
      LONDON,
      '2026-03-30T06:30:00Z',
    ],
    [
      'daily, the Saturday BST ends: 25 hours later',
      '2026-10-24T06:30:00Z',
      daily('07:30'),
      LONDON,
      '2026-10-25T07:30:00Z',
    ],
    [
      'daily 01:30 happens twice on the fold day: the second',
      '2026-10-24T12:00:00Z',
      daily('01:30'),
      LONDON,
      '2026-10-25T01:30:00Z',
    ],
    [
      'daily 01:30, after the first 01:30 (BST): once, at the second',
      '2026-10-25T00:30:00Z',
      daily('01:30'),
      LONDON,
      '2026-10-25T01:30:00Z',
    ],
    [
      'daily 01:30, after the second: the next day',
      '2026-10-25T01:30:00Z',
      daily('01:30'),
      LONDON,
      '2026-10-26T01:30:00Z',
    ],
    [
      'weekly Sunday across the October change',
      '2026-10-18T06:30:00Z',
      weekly('sun', '07:30'),
      LONDON,
      '2026-10-25T07:30:00Z',
    ],
    [
      'weekly Friday across the new year',
      '2026-12-25T16:00:00Z',
      weekly('fri', '16:00'),
      LONDON,
      '2027-01-01T16:00:00Z',
    ],
    [
      'daily in New York across its own change (8 March)',
      '2026-03-07T13:00:00Z',
      daily('07:30'),
      'America/New_York',
      '2026-03-08T11:30:00Z',
    ],
    [
      'daily in a half-hour zone',
      '2026-03-07T13:00:00Z',
      daily('07:30'),
      'Asia/Kolkata',
      '2026-03-08T02:00:00Z',
    ],
    ['midnight run', '2026-06-01T22:59:00Z', daily('00:00'), LONDON, '2026-06-01T23:00:00Z'],
  ];
  it.each(cases)('%s', (_what, after, schedule, zone, expected) => {
    expect(nextRunAt(new Date(after), schedule, zone).toISOString()).toBe(new Date(expected).toISOString());
  });

  it('a year of daily runs in London: each at 07:30 local, one per calendar day, never twice', () => {
    let at = new Date('2026-01-01T00:00:00Z');
    const days = new Set<string>();
    for (let i = 0; i < 365; i++) {
      const next = nextRunAt(at, daily('07:30'), LONDON);
      expect(next.getTime()).toBeGreaterThan(at.getTime());
      const local = formatLocal(next.getTime(), LONDON, false);
      expect(local.slice(11)).toBe('07:30');
      days.add(local.slice(0, 10));
      at = next;
    }
    expect(days.size).toBe(365);
    expect([...days].at(-1)).toBe('2026-12-31');
  });
});

describe('previousRunAt', () => {
  const cases: [string, string, DigestSchedule, string][] = [
    ['the run itself counts', '2026-03-30T06:30:00Z', weekly('mon', '07:30'), '2026-03-30T06:30:00Z'],
    [
      'a millisecond before: the week before (GMT)',
      '2026-03-30T06:29:59.999Z',
      weekly('mon', '07:30'),
      '2026-03-23T07:30:00Z',
    ],
    ['Tuesday morning: Monday 07:30', '2026-03-31T08:00:00Z', weekly('mon', '07:30'), '2026-03-30T06:30:00Z'],
    [
      'daily, before today’s time: yesterday’s',
      '2026-10-26T07:00:00Z',
      daily('07:30'),
      '2026-10-25T07:30:00Z',
    ],
  ];
  it.each(cases)('%s', (_what, at, schedule, expected) => {
    expect(previousRunAt(new Date(at), schedule, LONDON).toISOString()).toBe(
      new Date(expected).toISOString(),
    );
  });
});

describe('periodOf', () => {
  it('weekly: the seven whole local days before the run (167 hours across the spring change)', () => {
    const p = periodOf('weekly', Date.parse('2026-03-30T06:30:00Z'), LONDON);
    expect(new Date(p.fromMs).toISOString()).toBe('2026-03-23T00:00:00.000Z');
    expect(new Date(p.toMs).toISOString()).toBe('2026-03-29T23:00:00.000Z'); // Monday 00:00 BST
  });

  it('daily: the day before (25 hours on the October change day)', () => {
    const p = periodOf('daily', Date.parse('2026-10-26T07:30:00Z'), LONDON);
    expect(new Date(p.fromMs).toISOString()).toBe('2026-10-24T23:00:00.000Z');
    expect(new Date(p.toMs).toISOString()).toBe('2026-10-26T00:00:00.000Z');
  });
});

describe('schedulesOf', () => {
  it('reads the config: weekly by default, daily when set, none when both are null', () => {
    expect(schedulesOf({ weekly: { day: 'mon', time: '07:30' }, daily: null })).toEqual([
      { kind: 'weekly', day: 'mon', time: '07:30' },
    ]);
    expect(schedulesOf({ weekly: null, daily: { time: '06:45' } })).toEqual([
      { kind: 'daily', time: '06:45' },
    ]);
    expect(schedulesOf({ weekly: null, daily: null })).toEqual([]);
  });
});
