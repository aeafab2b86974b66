/**
 * The alerts engine: a subscriber of the exchange's `committed` events (never on a request's path). Each
 * committed row is read against the rules (rules.ts); a match opens an alert or counts on an open one
 * (windows.ts). A new alert is written to the `alerts` table (on the audit writer thread), then handed to
 * the sinks (log, webhook, e-mail), which deliver asynchronously; counts on an open alert are written to the
 * table once a second, not per request.
 */
import type { Logger } from 'pino';
import type { AlertWrite, StoredAlert } from '../audit/alerts-table.js';
import type { AuditEvent } from '../audit/types.js';
import type { CategoryMeta } from '../policy/types.js';
import type { AlertsConfig } from './config.js';
import type { KeywordIndex, Severity } from './keywords/index.js';
import { candidatesFor, keywordHostMatcher, type RuleContext } from './rules.js';
import type { Alert, AlertSinks } from './sinks/index.js';
import { AlertWindows, RepeatedAttempts, subjectOf, type OpenAlert } from './windows.js';

/** Where alerts are kept: the audit store's writer thread (WorkerAuditStore). */
export interface AlertTable {
  writeAlert(alert: AlertWrite): Promise<void>;
  recentAlerts(since: number): Promise<StoredAlert[]>;
}

export interface CommittedSource {
  on(name: 'committed', subscriber: (event: Readonly<{ row: AuditEvent }>) => void): void;
}

export interface AlertsEngineDeps {
  settings: AlertsConfig;
  /** The categories in force (the policy snapshot's lists), read per row: a reload changes them. */
  categories: () => ReadonlyMap<string, CategoryMeta>;
  /** The keyword lists in force (the loaded policy's), read per row: a reload changes them. */
  keywords: () => KeywordIndex;
  table: AlertTable;
  sinks: AlertSinks;
  logger: Logger;
  newId: (time: number) => string;
  /** How long counts on open alerts wait before they are written (default 1 s); tests use 0. */
  flushDelayMs?: number;
}

export interface AlertsStats {
  raised: Record<Severity, number>;
  /** Requests counted on an alert already raised. */
  counted: number;
  /** Alerts (or counts) the table could not store; the sinks still had the alert. */
  writeFailures: number;
  /** Epoch ms of the last alert raised, null before the first. */
  lastRaisedAt: number | null;
}

export class AlertsEngine {
  private readonly windows: AlertWindows;
  private readonly repeated: RepeatedAttempts | null;
  private readonly isKeywordHost: (host: string) => boolean;
  private categoryCache: { from: ReadonlyMap<string, CategoryMeta>; map: Map<string, Severity> } | null =
    null;
  private readonly dirty = new Map<string, AlertWrite>();
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly pending = new Set<Promise<void>>();
  private readonly stats_: AlertsStats = {
    raised: { danger: 0, warning: 0, advisory: 0 },
    counted: 0,
    writeFailures: 0,
    lastRaisedAt: null,
  };
  private closed = false;

  constructor(private readonly deps: AlertsEngineDeps) {
    const s = deps.settings;
    this.windows = new AlertWindows(s.windowMinutes * 60_000, deps.newId);
    this.repeated = s.repeated
      ? new RepeatedAttempts({
          attempts: s.repeated.attempts,
          withinMs: s.repeated.withinMinutes * 60_000,
          severity: s.repeated.severity,
        })
      : null;
    this.isKeywordHost = keywordHostMatcher(s.keywordHosts);
  }

  /** Reopens the windows of alerts raised shortly before a restart, so they count instead of repeating. */
  async restore(now: number): Promise<void> {
    const since = now - this.deps.settings.windowMinutes * 60_000;
    const recent = await this.deps.table.recentAlerts(since);
    this.windows.restore(
      recent.map((a): OpenAlert => ({ ...a, subject: subjectOf({ user: a.user, clientIp: a.clientIp }) })),
    );
  }

  subscribe(events: CommittedSource): void {
    if (!this.deps.settings.enabled) return;
    events.on('committed', ({ row }) => this.observe(row));
  }

  get stats(): Readonly<AlertsStats> {
    return this.stats_;
  }

  /** One committed row. Public for the table tests; the proxy calls it through subscribe(). */
  observe(row: Readonly<AuditEvent>): void {
    // A selftest probe is nobody's attempt: it must never page the DSL (nor count towards a repeat).
    if (this.closed || row.selftestRun) return;
    const candidates = candidatesFor(row, this.ruleContext());
    const repeated = this.repeated?.observe(row);
    if (repeated) candidates.push(repeated);
    for (const candidate of candidates) {
      const { alert, isNew } = this.windows.count(row, candidate);
      if (isNew) this.raise(alert);
      else this.countOn(alert);
    }
  }

  /** Writes what is waiting and waits for the writes in flight; the sinks are closed by their owner. */
  async close(): Promise<void> {
    this.closed = true;
    this.flush();
    await Promise.allSettled([...this.pending]);
  }

  private raise(alert: OpenAlert): void {
    this.stats_.raised[alert.severity] += 1;
    this.stats_.lastRaisedAt = alert.firstTime;
    // The table first, then the sinks; a table that cannot be written never holds the DSL's alert back.
    this.track(
      this.deps.table
        .writeAlert(toWrite(alert))
        .catch((err: unknown) => this.writeFailed(err, alert))
        .finally(() => this.deps.sinks.send(toSinkAlert(alert))),
    );
  }

  private countOn(alert: OpenAlert): void {
    this.stats_.counted += 1;
    this.dirty.set(alert.id, toWrite(alert));
    const delay = this.deps.flushDelayMs ?? 1_000;
    this.flushTimer ??= setTimeout(() => this.flush(), delay);
    this.flushTimer.unref?.();
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    for (const write of this.dirty.values())
      this.track(this.deps.table.writeAlert(write).catch((err: unknown) => this.writeFailed(err, write)));
    this.dirty.clear();
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private writeFailed(err: unknown, alert: { id: string; rule: string }): void {
    this.stats_.writeFailures += 1;
    this.deps.logger.error(
      { err: err instanceof Error ? err.message : String(err), alertId: alert.id, rule: alert.rule },
      'alerts: could not store the alert in the audit database (the sinks still have it)',
    );
  }

  private ruleContext(): RuleContext {
    return {
      alertCategories: this.alertCategories(),
      keywords: this.deps.keywords(),
      isKeywordHost: this.isKeywordHost,
    };
  }

  /** Categories marked `alert` (shipped or local) with their severity; rebuilt when a reload swaps them. */
  private alertCategories(): Map<string, Severity> {
    const from = this.deps.categories();
    if (this.categoryCache?.from === from) return this.categoryCache.map;
    const named = this.deps.settings.categories;
    const map = new Map<string, Severity>();
    for (const [name, meta] of from) if (meta.alert) map.set(name, named[name] ?? 'warning');
    this.categoryCache = { from, map };
    return map;
  }
}

function toWrite({ subject: _subject, ...write }: OpenAlert): AlertWrite {
  return write;
}

/** The sinks' value: the stored fields without the matched phrase (the search term already says it). */
function toSinkAlert({ subject: _subject, phrase: _phrase, ...alert }: OpenAlert): Alert {
  return alert;
}
