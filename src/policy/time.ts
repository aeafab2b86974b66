import type { Profile, TimeWindow, Weekday } from './types.js';

/**
 * Which of a profile's time windows are open at `now`, read in the profile's own time zone (so a window
 * written as 12:00–13:00 in Europe/London stays at lunchtime across the clock changes). Pure: the caller
 * passes the time in.
 *
 * - `from` is inclusive, `to` exclusive; `to` may be '24:00' for "until midnight".
 * - A window with from > to runs over midnight (22:00–06:00): its `days` name the day it starts on.
 * - A window with from === to is empty.
 */
export function openWindows(profile: Profile, now: Date): TimeWindow[] {
  if (profile.timeWindows.length === 0) return [];
  const { day, minutes } = localTime(profile.timeZone, now);
  const yesterday = WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7] as Weekday;
  return profile.timeWindows.filter((w) => {
    const from = parseClock(w.from, w.name);
    const to = parseClock(w.to, w.name);
    if (from < to) return w.days.includes(day) && minutes >= from && minutes < to;
    if (from > to)
      return (w.days.includes(day) && minutes >= from) || (w.days.includes(yesterday) && minutes < to);
    return false;
  });
}

const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const SHORT_DAY: Record<string, Weekday> = {
  Sun: 'sun',
  Mon: 'mon',
  Tue: 'tue',
  Wed: 'wed',
  Thu: 'thu',
  Fri: 'fri',
  Sat: 'sat',
};

// Building an Intl.DateTimeFormat costs far more than using one; keep one per time zone.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Day of the week and minutes since local midnight in `timeZone`. */
export function localTime(timeZone: string, now: Date): { day: Weekday; minutes: number } {
  let weekday = '';
  let hour = 0;
  let minute = 0;
  for (const part of formatter(timeZone).formatToParts(now)) {
    if (part.type === 'weekday') weekday = part.value;
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  const day = SHORT_DAY[weekday];
  if (day === undefined) throw new Error(`unexpected weekday ${JSON.stringify(weekday)} from Intl`);
  return { day, minutes: hour * 60 + minute };
}

const CLOCK = /^([01]\d|2[0-3]):([0-5]\d)$|^24:00$/;

function parseClock(text: string, windowName: string): number {
  const m = CLOCK.exec(text);
  if (!m) throw new Error(`time window ${windowName}: ${JSON.stringify(text)} is not HH:MM`);
  if (text === '24:00') return 24 * 60;
  return Number(m[1]) * 60 + Number(m[2]);
}
