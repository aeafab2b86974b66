/**
 * The value the alerts engine hands to the sinks, and the interface every sink (log, webhook, e-mail) has.
 *
 * An alert is already graded and de-duplicated by the engine: one alert stands for `count` matching
 * requests by the same user under the same rule between `firstTime` and `lastTime`. Sinks never decide
 * anything; they deliver.
 */

export type AlertSeverity = 'danger' | 'warning' | 'advisory';

export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['danger', 'warning', 'advisory'];

export interface Alert {
  /** UUIDv7, like audit row ids; the receiver's idempotency key (a retried delivery repeats it). */
  id: string;
  /** The authenticated user, or null for a guest (then clientIp and device say who). */
  user: string | null;
  profile: string | null;
  /** The device name from identity.devices, when the address is a known device. */
  device: string | null;
  clientIp: string;
  /** The school of a trust the request was resolved to (src/identity/site.ts), when sites are set. */
  site?: string | null;
  /** Epoch milliseconds of the first and the latest request counted in this alert. */
  firstTime: number;
  lastTime: number;
  /** Matching requests so far (1 for a fresh alert). */
  count: number;
  /** The rule that raised it, e.g. 'keyword:selfharm', 'category:extremism', 'repeated:blocked-flagged'. */
  rule: string;
  /** The category or keyword list that matched, e.g. 'selfharm'; null when the rule has none. */
  list: string | null;
  severity: AlertSeverity;
  /** The request's URL (or host for a tunnel), as recorded; null when only a search term is known. */
  url: string | null;
  /** The search term that matched, as the user typed it; null for a category alert. */
  searchTerm: string | null;
  /** The audit rows (audit_events.id) counted in this alert, oldest first. */
  auditRowIds: readonly string[];
  /** True for `schoolgate alerts test`: the sinks say so in the subject and the payload. */
  test?: boolean;
}

/** What a sink has done so far: for `status` and /metrics. */
export interface SinkStats {
  /** Alerts waiting (for a first attempt or a retry) or being delivered now. */
  queued: number;
  /** Alerts delivered. */
  delivered: number;
  /** Attempts that failed (each retry that follows one counts here once). */
  failedAttempts: number;
  /** Alerts given up on: retries exhausted, a permanent refusal, dropped from a full queue, or shutdown. */
  deadLetters: number;
  /** The last failure, already stripped of secrets; null when none. */
  lastError: string | null;
  /** Epoch ms of the last failure, null when none. */
  lastErrorAt: number | null;
}

export interface AlertSink {
  /** 'log', 'webhook' or 'email'. */
  readonly name: string;
  /** Queues the alert and returns at once; delivery is asynchronous. Never throws. */
  send(alert: Alert): void;
  /** One delivery attempt now, outside the queue (for `alerts test`): resolves when delivered. */
  test(alert: Alert): Promise<void>;
  stats(): SinkStats;
  /** Stops retrying, waits (bounded) for attempts in flight; what was still queued becomes dead letters. */
  close(): Promise<void>;
}
