/**
 * De-duplication and repeated attempts (pure: time comes from the rows, never from a clock).
 *
 * The same person and rule within `windowMs` of the alert's first request is one alert with a count, not
 * a flood: a pupil who searches the same thing ten times gives the DSL one alert saying 10. The window is
 * fixed from the first request, so behaviour that goes on for an hour gives a fresh alert every window
 * (the DSL hears that it continues) instead of one alert that never closes.
 *
 * Repeated attempts: blocked requests to flagged categories by one person. Requests to the same host
 * within a minute are one attempt (a page, its favicon and the browser's retry are not three attempts);
 * `attempts` of them within `withinMs` raise the rule.
 */
import type { AlertWrite } from '../audit/alerts-table.js';
import type { AuditEvent } from '../audit/types.js';
import type { Severity } from './keywords/index.js';
import type { AlertCandidate } from './rules.js';

/** An alert being counted: what the table stores, and whom it is about (the de-duplication key). */
export type OpenAlert = AlertWrite & { subject: string };

export interface Counted {
  alert: OpenAlert;
  /** True when this request opened the alert (the sinks hear of it); false when it only counted. */
  isNew: boolean;
}

/** Rows kept on an alert in memory; the table keeps the same number (ALERT_AUDIT_IDS_KEPT). */
const IDS_KEPT = 50;

/** Who an alert is about: the user, else (a guest) the client address. */
export function subjectOf(row: Pick<AuditEvent, 'user' | 'clientIp'>): string {
  return row.user !== null ? `user:${row.user}` : `ip:${row.clientIp}`;
}

/** What a row is recorded as: the URL as the audit log shows it, or the host of a tunnel. */
export function urlOf(row: Readonly<AuditEvent>): string {
  const port = row.port === null || row.port === (row.scheme === 'https' ? 443 : 80) ? '' : `:${row.port}`;
  const host = row.host.includes(':') ? `[${row.host}]` : row.host;
  return `${row.scheme}://${host}${port}${row.path ?? ''}`;
}

export class AlertWindows {
  private readonly open = new Map<string, OpenAlert>();
  private lastSweep = 0;

  constructor(
    private readonly windowMs: number,
    private readonly newId: (time: number) => string,
  ) {}

  /** Alerts raised earlier (from the table at start), so a restart does not raise them again. */
  restore(alerts: readonly OpenAlert[]): void {
    for (const a of alerts) {
      const key = keyOf(a.subject, a.rule);
      const held = this.open.get(key);
      if (!held || held.firstTime < a.firstTime) this.open.set(key, { ...a });
    }
  }

  count(row: Readonly<AuditEvent>, candidate: AlertCandidate): Counted {
    const now = row.time;
    this.sweep(now);
    const subject = subjectOf(row);
    const key = keyOf(subject, candidate.rule);
    const held = this.open.get(key);
    if (held && now >= held.firstTime && now - held.firstTime < this.windowMs) {
      held.count += 1;
      held.lastTime = Math.max(held.lastTime, now);
      if (held.auditRowIds.length < IDS_KEPT) held.auditRowIds.push(row.id);
      // A worse match later in the window raises the alert's grade (the sinks already heard of it once).
      if (rank(candidate.severity) > rank(held.severity)) held.severity = candidate.severity;
      held.searchTerm ??= candidate.searchTerm;
      return { alert: { ...held, auditRowIds: [...held.auditRowIds] }, isNew: false };
    }
    const fresh: OpenAlert = {
      id: this.newId(now),
      subject,
      rule: candidate.rule,
      list: candidate.list,
      severity: candidate.severity,
      firstTime: now,
      lastTime: now,
      count: 1,
      user: row.user,
      profile: row.profile,
      clientIp: row.clientIp,
      device: row.device,
      ...(row.site ? { site: row.site } : {}),
      url: candidate.originOnly ? urlOf({ ...row, path: '/' }) : urlOf(row),
      searchTerm: candidate.searchTerm,
      phrase: candidate.phrase,
      auditRowIds: [row.id],
    };
    this.open.set(key, fresh);
    return { alert: { ...fresh, auditRowIds: [...fresh.auditRowIds] }, isNew: true };
  }

  get size(): number {
    return this.open.size;
  }

  /** Drops closed windows, at most once per window length: memory stays bounded by recent subjects. */
  private sweep(now: number): void {
    if (now - this.lastSweep < this.windowMs) return;
    this.lastSweep = now;
    for (const [key, a] of this.open) if (now - a.firstTime >= this.windowMs) this.open.delete(key);
  }
}

function keyOf(subject: string, rule: string): string {
  return `${subject}\u0000${rule}`;
}

function rank(s: Severity): number {
  return s === 'danger' ? 3 : s === 'warning' ? 2 : 1;
}

export interface RepeatedSettings {
  attempts: number;
  withinMs: number;
  severity: Severity;
}

/** Requests to one host within this long are one attempt. */
const SAME_ATTEMPT_MS = 60_000;

export class RepeatedAttempts {
  private readonly bySubject = new Map<string, { host: string; time: number }[]>();
  private lastSweep = 0;

  constructor(private readonly settings: RepeatedSettings) {}

  /** The repeated-attempts candidate when this row is the attempt that reaches the threshold (or later). */
  observe(row: Readonly<AuditEvent>): AlertCandidate | null {
    if (row.action !== 'block' || !row.flagged) return null;
    const now = row.time;
    this.sweep(now);
    const subject = subjectOf(row);
    const kept = (this.bySubject.get(subject) ?? []).filter(
      (a) => now - a.time < this.settings.withinMs && a.time <= now,
    );
    const sameAttempt = kept.some((a) => a.host === row.host && now - a.time < SAME_ATTEMPT_MS);
    if (!sameAttempt) kept.push({ host: row.host, time: now });
    // Never more than the threshold: enough to know it is reached.
    while (kept.length > this.settings.attempts) kept.shift();
    this.bySubject.set(subject, kept);
    if (sameAttempt || kept.length < this.settings.attempts) return null;
    return {
      rule: 'repeated:blocked-flagged',
      list: row.categories[0] ?? null,
      severity: this.settings.severity,
      phrase: null,
      searchTerm: null,
    };
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.settings.withinMs) return;
    this.lastSweep = now;
    for (const [subject, list] of this.bySubject)
      if (list.every((a) => now - a.time >= this.settings.withinMs)) this.bySubject.delete(subject);
  }
}
