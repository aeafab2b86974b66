/**
 * `--expires` for exceptions and approved requests: a span from now (`90m`, `12h`, `14d`, `2w`) or a date
 * in the school's time zone. A bare day means until the end of that day (`2026-07-17`: through the 17th);
 * a day and time (`2026-07-17T15:30`) that moment. The end must be in the future.
 */
import { SchoolgateError } from '../errors.js';
import { addDays, zonedTimeToEpoch } from '../reports/time.js';

const SPAN = /^(\d{1,4})([mhdw])$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[t ](\d{2}):(\d{2}))?$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/** The --expires option's help text, the same wherever it is taken. */
export const EXPIRES_HELP = 'a span (90m, 12h, 14d, 2w) or a date (2026-07-17, 2026-07-17T15:30)';

export function parseExpiry(value: string, now: number, timeZone: string): Date {
  const v = value.trim().toLowerCase();
  const span = SPAN.exec(v);
  let at: number | undefined;
  if (span && Number(span[1]) > 0) at = now + Number(span[1]) * UNIT_MS[span[2] as keyof typeof UNIT_MS];
  const m = DATE.exec(v);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const check = new Date(Date.UTC(y, mo - 1, d));
    const realDay = check.getUTCMonth() === mo - 1 && check.getUTCDate() === d;
    if (realDay && m[4] === undefined) at = addDays(zonedTimeToEpoch(y, mo, d, timeZone), 1, timeZone);
    else if (realDay && Number(m[4]) < 24 && Number(m[5]) < 60)
      at = zonedTimeToEpoch(y, mo, d, timeZone, Number(m[4]), Number(m[5]));
  }
  if (at === undefined)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `--expires: "${value}" is not a span or a date`, {
      context: { value },
      suggestion: `use a span (90m, 12h, 14d, 2w) or a date in ${timeZone} (2026-07-17, 2026-07-17T15:30)`,
    });
  if (at <= now)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `--expires: "${value}" is not in the future`, {
      context: { value, at: new Date(at).toISOString() },
      suggestion: 'give an end after now, or leave --expires out for an exception with no end date',
    });
  return new Date(at);
}
