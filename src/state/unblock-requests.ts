/**
 * The `unblock_requests` table: a person asked, from a block page, for a site to be unblocked. The proxy
 * writes a request (bounded: one waiting request per person and site, a few waiting per person, a few an
 * hour per person); the technician approves (it becomes an exception for that person, src/state/
 * exceptions.ts) or denies it with a note, which the person sees on their next visit.
 */
import { osUser } from './changes.js';
import type { StateDatabase } from './database.js';

export type RequestStatus = 'pending' | 'approved' | 'denied';

export interface NewUnblockRequest {
  /** 'user:<name>' or 'ip:<address>' (the Continue grants' subjects). */
  subject: string;
  user: string | null;
  clientIp: string;
  profile: string;
  site: string;
  url: string;
  reason: string;
  /** The blocked page's reference (its audit row). */
  blockRef: string;
}

export interface UnblockRequest extends NewUnblockRequest {
  id: number;
  createdAt: string;
  status: RequestStatus;
  decidedAt: string | null;
  decidedBy: string | null;
  decidedOsUser: string | null;
  note: string | null;
  exceptionId: number | null;
}

/** How many requests one person may have: waiting at once, and sent in an hour. */
export const REQUEST_LIMITS = { pendingPerSubject: 5, perSubjectPerHour: 10, pendingTotal: 10_000 };

export type SubmitOutcome =
  | { ok: true; request: UnblockRequest }
  | { ok: false; reason: 'already-waiting'; request: UnblockRequest }
  | { ok: false; reason: 'too-many' };

interface Row {
  id: number;
  created_at: number;
  subject: string;
  user: string | null;
  client_ip: string;
  profile: string;
  site: string;
  url: string;
  reason: string;
  block_ref: string;
  status: RequestStatus;
  decided_at: number | null;
  decided_by: string | null;
  decided_os_user: string | null;
  note: string | null;
  exception_id: number | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function toRequest(r: Row): UnblockRequest {
  return {
    id: r.id,
    createdAt: new Date(r.created_at).toISOString(),
    subject: r.subject,
    user: r.user,
    clientIp: r.client_ip,
    profile: r.profile,
    site: r.site,
    url: r.url,
    reason: r.reason,
    blockRef: r.block_ref,
    status: r.status,
    decidedAt: iso(r.decided_at),
    decidedBy: r.decided_by,
    decidedOsUser: r.decided_os_user,
    note: r.note,
    exceptionId: r.exception_id,
  };
}

export class UnblockRequestStore {
  constructor(private readonly db: StateDatabase) {}

  /** Stores a request unless the limits say no; the checks and the insert are one transaction. */
  submit(req: NewUnblockRequest, at: number): SubmitOutcome {
    return this.db
      .transaction((): SubmitOutcome => {
        const waiting = this.latestFor(req.subject, req.site);
        if (waiting?.status === 'pending') return { ok: false, reason: 'already-waiting', request: waiting };
        const count = (sql: string, ...args: unknown[]) =>
          (this.db
            .prepare(sql)
            .pluck()
            .get(...args) as number | undefined) ?? 0;
        if (
          count(
            `SELECT count(*) FROM unblock_requests WHERE subject = ? AND status = 'pending'`,
            req.subject,
          ) >= REQUEST_LIMITS.pendingPerSubject ||
          count(
            `SELECT count(*) FROM unblock_requests WHERE subject = ? AND created_at > ?`,
            req.subject,
            at - 3_600_000,
          ) >= REQUEST_LIMITS.perSubjectPerHour ||
          count(`SELECT count(*) FROM unblock_requests WHERE status = 'pending'`) >=
            REQUEST_LIMITS.pendingTotal
        )
          return { ok: false, reason: 'too-many' };
        const id = Number(
          this.db
            .prepare(
              `INSERT INTO unblock_requests (created_at, subject, user, client_ip, profile, site, url, reason, block_ref)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(
              at,
              req.subject,
              req.user,
              req.clientIp,
              req.profile,
              req.site,
              req.url,
              req.reason,
              req.blockRef,
            ).lastInsertRowid,
        );
        return { ok: true, request: this.get(id)! };
      })
      .immediate();
  }

  get(id: number): UnblockRequest | undefined {
    const row = this.db.prepare<[number], Row>('SELECT * FROM unblock_requests WHERE id = ?').get(id);
    return row && toRequest(row);
  }

  /** The newest request of this person for this site (what their next visit shows). */
  latestFor(subject: string, site: string): UnblockRequest | undefined {
    const row = this.db
      .prepare<[string, string], Row>(
        'SELECT * FROM unblock_requests WHERE subject = ? AND site = ? ORDER BY id DESC LIMIT 1',
      )
      .get(subject, site);
    return row && toRequest(row);
  }

  list(opts: { status?: RequestStatus; limit?: number } = {}): UnblockRequest[] {
    const rows = opts.status
      ? this.db
          .prepare<[string, number], Row>(
            'SELECT * FROM unblock_requests WHERE status = ? ORDER BY id LIMIT ?',
          )
          .all(opts.status, opts.limit ?? 1000)
      : this.db
          .prepare<[number], Row>('SELECT * FROM unblock_requests ORDER BY id DESC LIMIT ?')
          .all(opts.limit ?? 1000)
          .reverse();
    return rows.map(toRequest);
  }

  /** Requests sent or decided in [from, to), oldest first (the weekly review). */
  between(fromMs: number, toMs: number): UnblockRequest[] {
    return this.db
      .prepare<[number, number, number, number], Row>(
        `SELECT * FROM unblock_requests WHERE (created_at >= ? AND created_at < ?) OR (decided_at >= ? AND decided_at < ?)
         ORDER BY id LIMIT 10000`,
      )
      .all(fromMs, toMs, fromMs, toMs)
      .map(toRequest);
  }

  /** Records the decision on a waiting request; false when it is not waiting. */
  decide(
    id: number,
    d: { status: 'approved' | 'denied'; by: string; note: string | null; exceptionId: number | null },
    at: number,
  ): boolean {
    return (
      this.db
        .prepare(
          `UPDATE unblock_requests SET status = ?, decided_at = ?, decided_by = ?, decided_os_user = ?, note = ?,
             exception_id = ? WHERE id = ? AND status = 'pending'`,
        )
        .run(d.status, at, d.by, osUser(), d.note, d.exceptionId, id).changes === 1
    );
  }
}
