/**
 * The audit interface. SQLite (better-sqlite3) is the first implementation; a shared engine (PostgreSQL)
 * can stand behind the same interface when several nodes serve one trust.
 */

/** What happened to one access or attempted access. */
/** Pilot mode's actions (profile mode: monitor): the request was let through. */
export const PILOT_ACTIONS = ['would-block', 'would-warn'] as const;

export type AuditAction =
  | 'allow' // allowed and forwarded / tunnelled
  | 'warn' // warn page shown
  | 'continue' // the user pressed Continue on a warn page (grants the site)
  | 'continued' // a later request under a Continue permission
  | 'block' // block page or 403
  | 'would-block' // pilot mode (profile mode: monitor): let through, enforce would have blocked
  | 'would-warn' // pilot mode: let through without the warn page, enforce would have warned
  | 'reject' // malformed request: 4xx and connection closed
  | 'refused' // client outside the client networks
  | 'auth-failed' // wrong or missing proxy credentials
  | 'error' // failed closed: identity or policy threw
  | 'self-report' // "I reached this by accident", from the block page
  | 'unblock-request' // asked from the block page for the site to be unblocked (state DB unblock_requests)
  | 'unblock-approved' // `schoolgate requests approve`: the request became an exception
  | 'unblock-denied'; // `schoolgate requests deny`

/** Every action, for validation and for tables that must cover them all. */
export const AUDIT_ACTIONS: readonly AuditAction[] = [
  'allow',
  'warn',
  'continue',
  'continued',
  'block',
  'would-block',
  'would-warn',
  'reject',
  'refused',
  'auth-failed',
  'error',
  'self-report',
  'unblock-request',
  'unblock-approved',
  'unblock-denied',
];

export interface AuditEvent {
  /** Per-request UUID; the primary key, so a retried write never duplicates a row. */
  id: string;
  /** Epoch milliseconds. */
  time: number;
  /** Who was identified. Never the name a failed login claimed: that is `claimedUser`. */
  user: string | null;
  /**
   * The user name a failed or throttled proxy login claimed (control characters replaced, at most 128
   * characters), kept apart from `user` so a report about that person never counts an attempt they did not
   * make. Null on every other row.
   */
  claimedUser?: string | null;
  profile: string | null;
  clientIp: string;
  device: string | null;
  method: string;
  scheme: string;
  host: string;
  port: number | null;
  path: string | null;
  categories: string[];
  action: AuditAction;
  /** The deciding rule, e.g. 'category:social:facebook.com' or 'default'. */
  rule: string | null;
  /** A short machine reason, e.g. 'category', 'bad-request:userinfo', 'client-network'. */
  reason: string;
  flagged: boolean;
  /** HTTP status sent to the client, when known at decision time. */
  status: number | null;
  /** 'request' (default), 'tunnel' (a CONNECT tunnel) or 'inspected' (a request inside an inspected tunnel). */
  kind?: 'request' | 'tunnel' | 'inspected';
  /** The search term of a search-engine request, when one was extracted. */
  searchTerm?: string | null;
  searchEngine?: string | null;
  /** Rewrites enforced on the request, e.g. ['safe=active']. */
  rewrites?: string[] | null;
  /** Free text from the user (a self-report comment, an unblock request's reason) or the technician's note. */
  note?: string | null;
  /**
   * Set on the probes of `schoolgate selftest` (the run id; see src/exchange/selftest-probes.ts): not
   * anyone's activity, so reports, reviews and alerts leave these rows out. Null on every other row.
   */
  selftestRun?: string | null;
  /**
   * The school of a trust the request belongs to (src/identity/site.ts: the user's, device's or network's
   * site). Null when none is set (a single school) and on every row written before schema 12.
   */
  site?: string | null;
}

/** Known only once the exchange finished. */
export interface AuditOutcome {
  status: number | null;
  /** Bytes read from the client (request line, headers, body; for a tunnel, client-to-upstream). */
  bytesIn: number;
  /** Bytes written to the client (for a tunnel, upstream-to-client). */
  bytesOut: number;
  /** From the decision to the end of the exchange. */
  durationMs: number;
}

export interface AuditStore {
  /**
   * Queues the event and resolves once it is committed durably (group commit). Callers await this before
   * sending the response that reveals the decision. Rejects with SG_AUDIT_UNAVAILABLE if it cannot be written.
   */
  record(event: AuditEvent): Promise<void>;
  /** Queues the outcome of an earlier event; committed with a later batch. Never throws. */
  complete(id: string, outcome: AuditOutcome): void;
  /** Commits everything queued, then closes. */
  close(): Promise<void>;
  /** Rows waiting for the next commit (for `status`). */
  readonly queueDepth: number;
}
