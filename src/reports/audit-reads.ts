/**
 * What the reports read from the audit record, whichever store keeps it (config.store): the SQLite file
 * (sqlite-reads.ts, today's statements unchanged) or PostgreSQL (src/audit/postgres/report-reads.ts). The
 * builders and renderers see only this; every query is short and rows come in keyset pages of PAGE_ROWS,
 * so a report never holds a read open for long on either engine.
 */
import type { StoredAlert } from '../audit/alerts-table.js';
import type { CoverageResult } from '../audit/chain-coverage.js';
import type { LastVerify } from '../audit/last-verify.js';
import type { AccessEntry, StoredAccessEntry } from '../audit/report-access.js';
import type { Referent } from './references.js';
import type { AuditRowRaw } from './source.js';

/** A person's self-report, looked up against their blocks (references.ts). */
export interface ReportedRow {
  timeMs: number;
  user: string | null;
  clientIp: string;
  host: string;
}

export interface AlertsQuery {
  fromMs: number;
  toMs: number;
  user?: string;
  site?: string;
}

export interface ClaimedAddress {
  clientIp: string;
  attempts: number;
  firstMs: number;
  lastMs: number;
}

export interface UncategorisedRow {
  host: string;
  requests: number;
  users: number;
  lastMs: number;
}

/** The most-requested uncategorised hosts of a period (build-uncategorised.ts). */
export interface UncategorisedAsk {
  fromMs: number;
  toMs: number;
  profile: string | null;
  top: number;
  site?: string;
}

/** One chain's head: a node's on PostgreSQL (node set), the file's on SQLite (node null). */
export interface ChainHeadOf {
  node: string | null;
  seq: number;
  hash: string;
}

/** The access log's entries: from <= time < to (oldest first), or one case's; at most `limit` (10,000). */
export interface AccessLogQuery {
  fromMs?: number;
  toMs?: number;
  caseRef?: string;
  limit?: number;
}

export interface AuditReads {
  readonly store: 'sqlite' | 'postgres';
  /** A person's rows in (time, row) order, each given to `each` after its chain links are checked. */
  checkedUserRows(
    q: { user: string; fromMs: number; toMs: number; site?: string },
    each: (r: AuditRowRaw) => void | Promise<void>,
  ): Promise<CoverageResult>;
  /** Rows checked one by one against their chain neighbours (the domain report's rows). */
  checkRows(
    rows: AsyncIterable<AuditRowRaw>,
    each: (r: AuditRowRaw) => void | Promise<void>,
  ): Promise<CoverageResult>;
  userRows(user: string, fromMs: number, toMs: number, site?: string): AsyncIterable<AuditRowRaw>;
  hostRows(host: string, fromMs: number, toMs: number, site?: string): AsyncIterable<AuditRowRaw>;
  flaggedRows(fromMs: number, toMs: number, site?: string): AsyncIterable<AuditRowRaw>;
  /** Self-reports and Continues (reviews). */
  attentionRows(fromMs: number, toMs: number, site?: string): AsyncIterable<AuditRowRaw>;
  /** Pilot mode's rows (would-block, would-warn): report pilot. */
  pilotRows(fromMs: number, toMs: number, site?: string): AsyncIterable<AuditRowRaw>;
  /** One row by its id (the reference block pages and reports show), or null; with a site, only that site's. */
  rowById(id: string, site?: string): Promise<AuditRowRaw | null>;
  /** The row a Continue or self-report names (by its id), or null. */
  referent(id: string): Promise<Referent | null>;
  /** Whether the host was blocked for this person at any time up to the report. */
  blockedThere(report: ReportedRow): Promise<boolean>;
  /** The host itself and every subdomain seen. */
  hostsUnder(domain: string): Promise<string[]>;
  /** Every chain's head (one on SQLite; one per node on PostgreSQL). */
  chainHeads(): Promise<ChainHeadOf[]>;
  /** The last full `audit verify`, where this store keeps it; null: never run (or not kept). */
  lastFullVerify(): LastVerify | null;
  alerts(q: AlertsQuery): Promise<StoredAlert[]>;
  /** Failed logins under a name, per address (most first); null: the store predates claimed names. */
  claimedLogins(user: string, fromMs: number, toMs: number): Promise<ClaimedAddress[] | null>;
  uncategorised(q: UncategorisedAsk): Promise<UncategorisedRow[]>;
  /** The record of looks (report access-log, the auditor's page): this store's report_access. */
  accessLog(q: AccessLogQuery): Promise<StoredAccessEntry[]>;
  close(): Promise<void>;
}

/** Where a report's access is recorded before anything is read: the store the report reads. */
export interface AccessRecorder {
  readonly store: 'sqlite' | 'postgres';
  record(entry: AccessEntry): Promise<number>;
  close(): Promise<void>;
}
