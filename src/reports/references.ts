/**
 * What a Continue or a self-report refers to. Both are posted to `/.schoolgate/...` on the site they stand
 * in for and carry no decision of their own (no category): the Continue names the warn page's row
 * (`continue:<id>`), the self-report the block page's row (`self-report:<id>`). Reports look that row up
 * (by the UNIQUE index on id) to show its category, and check a self-report against the block it names: a
 * pupil can post any reference, so an unmatched one is marked, never listed as a real accident.
 */
import type Database from 'better-sqlite3';
import { parseCategories, type AuditRowRaw } from './source.js';
import { formatLocal } from './time.js';

export interface Referent {
  id: string;
  timeMs: number;
  user: string | null;
  clientIp: string;
  host: string;
  action: string;
  categories: string[];
}

export interface SelfReportCheck {
  matched: boolean;
  /** Plain words for the report, e.g. 'matches the block of bet.test at 2026-11-04 11:00:00'. */
  text: string;
}

/** The row id a Continue or self-report names, or null (none given, or another kind of row). */
export function referenceOf(action: string, reason: string): string | null {
  const prefix = action === 'continue' ? 'continue:' : action === 'self-report' ? 'self-report:' : null;
  if (prefix === null || !reason.startsWith(prefix)) return null;
  const id = reason.slice(prefix.length);
  return id === '' ? null : id;
}

/** The same site: one host is the other or a subdomain of it (a Continue may grant a parent domain). */
export function sameSite(a: string, b: string): boolean {
  return a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`);
}

interface Report {
  timeMs: number;
  user: string | null;
  clientIp: string;
  host: string;
}

/**
 * Pure: a self-report against the row it names. `blockedThere`: whether the site was blocked for this
 * person at any time up to the report (asked only when the reference does not match).
 */
export function checkSelfReport(
  report: Report,
  ref: Referent | null,
  blockedThere: () => boolean,
  timeZone: string,
): SelfReportCheck {
  const elsewhere = () =>
    blockedThere()
      ? `; ${report.host} was blocked for this person at another time`
      : `; ${report.host} was never blocked for this person`;
  if (ref === null) return { matched: false, text: `UNMATCHED: no block with this reference${elsewhere()}` };
  const samePerson =
    report.user !== null || ref.user !== null ? report.user === ref.user : report.clientIp === ref.clientIp;
  if (!samePerson) return { matched: false, text: 'UNMATCHED: the reference is another person’s page' };
  if (ref.action !== 'block')
    return {
      matched: false,
      text: `UNMATCHED: the reference is a ${ref.action} row, not a block${elsewhere()}`,
    };
  if (!sameSite(ref.host, report.host))
    return { matched: false, text: `UNMATCHED: the reference is a block of another site (${ref.host})` };
  if (ref.timeMs > report.timeMs)
    return { matched: false, text: 'UNMATCHED: reported before the block it names' };
  return { matched: true, text: `matches the block of ${ref.host} at ${formatLocal(ref.timeMs, timeZone)}` };
}

const BY_ID_SQL = `SELECT id, time_ms AS timeMs, username AS user, client_ip AS clientIp, host, action, categories
  FROM audit_events WHERE id = ?`;

/** Answered from audit_events_host_time: the person's blocks of one host up to a time. */
const BLOCKED_THERE_SQL = `SELECT 1 FROM audit_events
  WHERE host = ? AND time_ms <= ? AND action = 'block' AND (username = ? OR (? IS NULL AND client_ip = ?)) LIMIT 1`;

/** Looks rows up by reference on the report's read-only connection. Few rows per report: no cache needed. */
export class References {
  private byId: Database.Statement | undefined;
  private blocked: Database.Statement | undefined;

  constructor(private readonly db: Database.Database) {}

  get(id: string): Referent | null {
    this.byId ??= this.db.prepare(BY_ID_SQL);
    const r = this.byId.get(id) as (Omit<Referent, 'categories'> & { categories: string }) | undefined;
    return r ? { ...r, categories: parseCategories(r as unknown as AuditRowRaw) } : null;
  }

  blockedThere(report: Report): boolean {
    this.blocked ??= this.db.prepare(BLOCKED_THERE_SQL);
    return (
      this.blocked.get(report.host, report.timeMs, report.user, report.user, report.clientIp) !== undefined
    );
  }
}
