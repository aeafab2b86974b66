/**
 * "Failed logins claiming this name", a short section of the per-person report. A wrong or throttled proxy
 * password is recorded with the name it claimed (claimed_user), never as that person's activity: anyone can
 * type a name, so these attempts are kept out of the person's counts and shown apart, per address.
 */
import type { Section } from './model.js';
import { fmt } from './report-parts.js';
import type { ReportSource } from './source.js';

/** Addresses listed at most (the total still counts every attempt). */
const MAX_ADDRESSES = 50;

/** Answered from audit_events_claimed_time (schema 5). */
export const CLAIMED_LOGINS_SQL = `SELECT client_ip AS clientIp, count(*) AS attempts,
    min(time_ms) AS firstMs, max(time_ms) AS lastMs
  FROM audit_events WHERE claimed_user = ? AND time_ms >= ? AND time_ms < ?
  GROUP BY client_ip ORDER BY attempts DESC, client_ip`;

export interface ClaimedLogins {
  attempts: number;
  addresses: { clientIp: string; attempts: number; firstMs: number; lastMs: number }[];
  /** More addresses than listed. */
  truncated: boolean;
}

/** Null for a store written before claimed names were recorded (SQLite schema 5). */
export async function claimedLogins(
  src: ReportSource,
  user: string,
  fromMs: number,
  toMs: number,
): Promise<ClaimedLogins | null> {
  const all = await src.reads.claimedLogins(user, fromMs, toMs);
  if (all === null) return null;
  return {
    attempts: all.reduce((n, a) => n + a.attempts, 0),
    addresses: all.slice(0, MAX_ADDRESSES),
    truncated: all.length > MAX_ADDRESSES,
  };
}

const HEADING = 'Someone tried this account (failed logins under this name)';

export function claimedLoginsSection(src: ReportSource, user: string, c: ClaimedLogins | null): Section {
  const intro =
    `Wrong or throttled proxy passwords typed under the name ${user}. Anyone can type a name, so these are ` +
    'not counted as this person’s activity above.';
  if (c === null)
    return {
      heading: HEADING,
      paragraphs: [intro, 'Not recorded: the audit database predates this record.'],
    };
  return {
    heading: HEADING,
    id: 'failed-logins',
    paragraphs: [
      intro,
      `${c.attempts} attempt${c.attempts === 1 ? '' : 's'} in this period` +
        (c.truncated ? `; the ${MAX_ADDRESSES} addresses with the most are listed.` : '.'),
    ],
    table: {
      columns: ['Client address', 'Attempts', 'First', 'Last'],
      numeric: [1],
      rows: c.addresses.map((a) => [a.clientIp, a.attempts, fmt(src, a.firstMs), fmt(src, a.lastMs)]),
      empty: 'None.',
    },
  };
}
