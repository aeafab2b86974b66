/**
 * When a digest is due, as a pure function of an instant, the schedule and the school's IANA time zone.
 * Runs are local wall-clock times ("Monday 07:30 in Europe/London"), so the UTC interval between two runs
 * is 23, 24 or 25 hours (daily) when the clocks change in between. A local time that does not exist (the
 * spring gap) runs when it would have been, i.e. an hour later on the wall clock; one that happens twice
 * (the autumn fold) runs once, at the second (src/reports/time.ts zonedTimeToEpoch, one reading of both).
 */
import type { Weekday } from '../../policy/types.js';
import type { DigestConfig } from '../config.js';
import { addDays, startOfDay, zonedParts, zonedTimeToEpoch } from '../../reports/time.js';

export type DigestKind = 'weekly' | 'daily';

export type DigestSchedule = { kind: 'weekly'; day: Weekday; time: string } | { kind: 'daily'; time: string };

/** Date.getUTCDay() order. */
const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** The schedules the config asks for (none, one or both). */
export function schedulesOf(digest: DigestConfig): DigestSchedule[] {
  const out: DigestSchedule[] = [];
  if (digest.weekly) out.push({ kind: 'weekly', ...digest.weekly });
  if (digest.daily) out.push({ kind: 'daily', ...digest.daily });
  return out;
}

/** The run on the local calendar day `offset` days from the day of `ms`, or null when none that day. */
function runOnDay(ms: number, offset: number, schedule: DigestSchedule, timeZone: string): number | null {
  const p = zonedParts(ms, timeZone);
  const day = new Date(Date.UTC(p.year, p.month - 1, p.day + offset));
  if (schedule.kind === 'weekly' && WEEKDAYS[day.getUTCDay()] !== schedule.day) return null;
  const [hh, mm] = schedule.time.split(':').map(Number) as [number, number];
  return zonedTimeToEpoch(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), timeZone, hh, mm);
}

/** The first run strictly after `after`. */
export function nextRunAt(after: Date, schedule: DigestSchedule, timeZone: string): Date {
  const at = after.getTime();
  // Eight days always hold one weekly run after `at` (today's may already be past).
  for (let offset = 0; offset <= 8; offset++) {
    const run = runOnDay(at, offset, schedule, timeZone);
    if (run !== null && run > at) return new Date(run);
  }
  throw new Error(`no ${schedule.kind} run within 8 days of ${after.toISOString()} in ${timeZone}`);
}

/** The latest run at or before `at`: the one a proxy that was down may have missed. */
export function previousRunAt(at: Date, schedule: DigestSchedule, timeZone: string): Date {
  const ms = at.getTime();
  for (let offset = 0; offset >= -8; offset--) {
    const run = runOnDay(ms, offset, schedule, timeZone);
    if (run !== null && run <= ms) return new Date(run);
  }
  throw new Error(`no ${schedule.kind} run within 8 days before ${at.toISOString()} in ${timeZone}`);
}

/**
 * The whole local days a run reports on: the seven before the run's day (weekly) or the day before
 * (daily). Consecutive runs' periods meet without a gap or an overlap; what happens between midnight and
 * the run's time is in the next digest.
 */
export function periodOf(
  kind: DigestKind,
  runAt: number,
  timeZone: string,
): { fromMs: number; toMs: number } {
  const toMs = startOfDay(runAt, timeZone);
  return { fromMs: addDays(toMs, kind === 'weekly' ? -7 : -1, timeZone), toMs };
}
