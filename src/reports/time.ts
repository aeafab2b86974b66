/**
 * Dates and times in the school's time zone (config.timeZone). Command-line dates:
 *   2026-11-01          that day (as --from: its start; as --to: its end, i.e. the whole day is included)
 *   2026-11-01T09:30    that local time
 *   today, yesterday    those days
 *   7d, 12h, 30m        that long before now (a rolling window), e.g. --since 7d
 *   now                 now
 */
import { SchoolgateError } from '../errors.js';

const DAY_MS = 86_400_000;

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const partFormatters = new Map<string, Intl.DateTimeFormat>();
function partsFormatter(timeZone: string): Intl.DateTimeFormat {
  let f = partFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    partFormatters.set(timeZone, f);
  }
  return f;
}

/** The local calendar parts of an instant, read with Intl (slow: use zonedParts). */
function intlParts(ms: number, timeZone: string): Parts {
  const p: Record<string, number> = {};
  for (const part of partsFormatter(timeZone).formatToParts(ms)) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  return {
    year: p['year']!,
    month: p['month']!,
    day: p['day']!,
    hour: p['hour']!,
    minute: p['minute']!,
    second: p['second']!,
  };
}

/*
 * A report formats every row's time: Intl per row was a tenth of a heavy report's time. Offsets change
 * only at transitions, and every zone's transitions fall on a quarter hour, so the offset is computed
 * once per 15-minute block and the parts are then plain UTC arithmetic.
 */
const BLOCK_MS = 15 * 60_000;
const offsetCache = new Map<string, Map<number, number>>();

function blockOffset(ms: number, timeZone: string): number {
  let zone = offsetCache.get(timeZone);
  if (!zone) offsetCache.set(timeZone, (zone = new Map()));
  const block = Math.floor(ms / BLOCK_MS);
  let offset = zone.get(block);
  if (offset === undefined) {
    if (zone.size > 200_000) zone.clear();
    const start = block * BLOCK_MS;
    const p = intlParts(start, timeZone);
    offset = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - start;
    zone.set(block, offset);
  }
  return offset;
}

export function zonedParts(ms: number, timeZone: string): Parts {
  const local = new Date(ms + blockOffset(ms, timeZone));
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
  };
}

/** Milliseconds the zone is ahead of UTC at that instant. */
function offsetAt(ms: number, timeZone: string): number {
  const p = zonedParts(ms, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The instant a local wall-clock time occurs in the zone (the later one in a DST gap or overlap fold). */
export function zonedTimeToEpoch(y: number, m: number, d: number, timeZone: string, hh = 0, mm = 0): number {
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  let t = guess - offsetAt(guess, timeZone);
  t = guess - offsetAt(t, timeZone);
  return t;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** YYYY-MM-DD of an instant in the zone. */
export function dayKey(ms: number, timeZone: string): string {
  const p = zonedParts(ms, timeZone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

/** Start of the local day that contains the instant. */
export function startOfDay(ms: number, timeZone: string): number {
  const p = zonedParts(ms, timeZone);
  return zonedTimeToEpoch(p.year, p.month, p.day, timeZone);
}

/** Start of the local day `days` after the day containing the instant. */
export function addDays(dayStartMs: number, days: number, timeZone: string): number {
  const p = zonedParts(dayStartMs + 12 * 3_600_000, timeZone); // noon: safe across DST
  const d = new Date(Date.UTC(p.year, p.month - 1, p.day + days));
  return zonedTimeToEpoch(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), timeZone);
}

/** "2026-11-03 14:05:09" in the zone. */
export function formatLocal(ms: number, timeZone: string, seconds = true): string {
  const p = zonedParts(ms, timeZone);
  const clock = `${pad(p.hour)}:${pad(p.minute)}${seconds ? `:${pad(p.second)}` : ''}`;
  return `${p.year}-${pad(p.month)}-${pad(p.day)} ${clock}`;
}

/**
 * Fast local day/hour of many instants: every real zone's offset is a multiple of 15 minutes, so instants in
 * the same UTC quarter-hour share a local day and hour.
 */
export class LocalClock {
  private readonly cache = new Map<number, { day: string; hour: number }>();
  constructor(readonly timeZone: string) {}
  of(ms: number): { day: string; hour: number } {
    const q = Math.floor(ms / 900_000);
    let v = this.cache.get(q);
    if (!v) {
      const p = zonedParts(q * 900_000, this.timeZone);
      v = { day: `${p.year}-${pad(p.month)}-${pad(p.day)}`, hour: p.hour };
      if (this.cache.size > 200_000) this.cache.clear();
      this.cache.set(q, v);
    }
    return v;
  }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[t ](\d{2}):(\d{2}))?$/;
const SPAN = /^(\d{1,5})([dhm])$/;

/**
 * Parses a command-line date. `end` selects the meaning of a bare day: false → its start, true → its end
 * (the start of the next day), so `--from 2026-11-01 --to 2026-11-01` is that whole day.
 */
export function parseWhen(value: string, timeZone: string, now: number, end: boolean): number {
  const v = value.trim().toLowerCase();
  if (v === 'now') return now;
  if (v === 'today' || v === 'yesterday') {
    const today = startOfDay(now, timeZone);
    const start = v === 'today' ? today : addDays(today, -1, timeZone);
    return end ? addDays(start, 1, timeZone) : start;
  }
  const span = SPAN.exec(v);
  if (span) {
    const n = Number(span[1]);
    const unit = span[2] === 'd' ? DAY_MS : span[2] === 'h' ? 3_600_000 : 60_000;
    return now - n * unit;
  }
  const m = DATE.exec(v);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const check = new Date(Date.UTC(y, mo - 1, d));
    if (check.getUTCMonth() === mo - 1 && check.getUTCDate() === d) {
      if (m[4] !== undefined) {
        const [hh, mm] = [Number(m[4]), Number(m[5])];
        if (hh < 24 && mm < 60) return zonedTimeToEpoch(y, mo, d, timeZone, hh, mm);
      } else {
        const start = zonedTimeToEpoch(y, mo, d, timeZone);
        return end ? addDays(start, 1, timeZone) : start;
      }
    }
  }
  throw new SchoolgateError('SG_ARGUMENT_INVALID', `"${value}" is not a date`, {
    context: { value },
    suggestion: 'use 2026-11-01, 2026-11-01T09:30, today, yesterday, now, or a span such as 7d, 12h, 30m',
  });
}

export interface Period {
  fromMs: number;
  toMs: number;
}

export function parsePeriod(
  from: string | undefined,
  to: string | undefined,
  timeZone: string,
  now: number,
  defaultFrom = '30d',
): Period {
  const fromMs = parseWhen(from ?? defaultFrom, timeZone, now, false);
  const toMs = parseWhen(to ?? 'now', timeZone, now, true);
  if (toMs <= fromMs)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `the period is empty: --to is not after --from`, {
      context: { from, to },
      suggestion: 'give --from before --to; a single day is --from 2026-11-01 --to 2026-11-01',
    });
  return { fromMs, toMs };
}
