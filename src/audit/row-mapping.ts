/**
 * AuditEvent <-> audit_events row. Validation happens here, before an event joins a batch, so that one
 * malformed event is rejected on its own instead of failing the whole transaction for everyone else.
 */
import { CHAINED_COLUMNS, LATER_CHAINED_COLUMNS, type ChainedColumn } from './chain.js';
import { AUDIT_ACTIONS, type AuditAction, type AuditEvent, type AuditOutcome } from './types.js';

const ACTIONS: ReadonlySet<string> = new Set<AuditAction>(AUDIT_ACTIONS);

const KINDS: ReadonlySet<string> = new Set(['request', 'tunnel', 'inspected']);

/** Named parameters of the INSERT statement (better-sqlite3 binds `@name`). */
export interface EventRow {
  id: string;
  time_ms: number;
  username: string | null;
  profile: string | null;
  client_ip: string;
  device: string | null;
  method: string;
  scheme: string;
  host: string;
  port: number | null;
  path: string | null;
  categories: string;
  action: string;
  rule: string | null;
  reason: string;
  flagged: 0 | 1;
  status: number | null;
  kind: string;
  search_term: string | null;
  search_engine: string | null;
  rewrites: string | null;
  note: string | null;
  /** Schema 4. */
  claimed_user: string | null;
  /** Schema 7: the selftest run that sent this probe, or null. */
  selftest_run: string | null;
  /** Schema 12: the school of a trust (src/identity/site.ts), or null. */
  site: string | null;
}

export interface OutcomeRow {
  id: string;
  status: number | null;
  bytes_in: number;
  bytes_out: number;
  duration_ms: number;
  completed_ms: number;
}

/** A row as read back by the reader (all columns). */
export interface StoredAuditRow extends AuditEvent {
  bytesIn: number | null;
  bytesOut: number | null;
  durationMs: number | null;
  completedMs: number | null;
}

/** An insert without the chain and schema 4 columns: only for tests that build databases of older schemas. */
export const INSERT_SQL = `INSERT OR IGNORE INTO audit_events
  (id, time_ms, username, profile, client_ip, device, method, scheme, host, port, path, categories,
   action, rule, reason, flagged, status, kind, search_term, search_engine, rewrites, note)
  VALUES (@id, @time_ms, @username, @profile, @client_ip, @device, @method, @scheme, @host, @port, @path,
   @categories, @action, @rule, @reason, @flagged, @status, @kind, @search_term, @search_engine, @rewrites, @note)`;

/** A row as the writer inserts it: the event plus its place in the hash chain (see chain.ts). */
export interface ChainedEventRow extends EventRow {
  seq: number;
  chain_hash: string;
  outcome_hash: string;
}

/**
 * The row's own columns in bind order: the chained ones (chain.ts, without seq), the decision-time status,
 * then the later chained ones. Every EventRow field must be listed (checked at compile time).
 */
export const ROW_COLUMNS = [
  ...(CHAINED_COLUMNS.slice(1) as readonly Exclude<ChainedColumn, 'seq'>[]),
  'status',
  ...LATER_CHAINED_COLUMNS,
] as const satisfies readonly (keyof EventRow)[];
type Unlisted = Exclude<keyof EventRow, (typeof ROW_COLUMNS)[number]>;
const everyColumnListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyColumnListed;

/** Written after ROW_COLUMNS: the row's place in the chain. */
export const LINK_COLUMNS = ['seq', 'chain_hash', 'outcome_hash'] as const;

/** The writer's one-row insert (schema 12+): every row column and the chain columns, named. */
export const CHAINED_INSERT_SQL = `INSERT OR IGNORE INTO audit_events
  (${[...ROW_COLUMNS, ...LINK_COLUMNS].join(', ')})
  VALUES (${[...ROW_COLUMNS, ...LINK_COLUMNS].map((c) => `@${c}`).join(', ')})`;

/**
 * COALESCE keeps a decision-time status when the outcome does not know one. The outcome hash is recomputed
 * over the new outcome columns (sg_outcome_hash is registered on the writer's connection by chain.ts).
 */
export const UPDATE_SQL = `UPDATE audit_events
  SET status = COALESCE(@status, status), bytes_in = @bytes_in, bytes_out = @bytes_out,
      duration_ms = @duration_ms, completed_ms = @completed_ms,
      outcome_hash = sg_outcome_hash(chain_hash, COALESCE(@status, status), @bytes_in, @bytes_out,
                                     @duration_ms, @completed_ms)
  WHERE id = @id`;

/** Returns the reason an event cannot be stored, or null when it is fine. */
export function invalidEventReason(e: AuditEvent): string | null {
  if (typeof e !== 'object' || e === null) return 'event is not an object';
  if (typeof e.id !== 'string' || e.id.length === 0 || e.id.length > 128)
    return 'id must be 1-128 characters';
  if (typeof e.time !== 'number' || !Number.isFinite(e.time)) return 'time must be epoch milliseconds';
  if (typeof e.clientIp !== 'string') return 'clientIp must be a string';
  if (typeof e.method !== 'string' || typeof e.scheme !== 'string' || typeof e.host !== 'string') {
    return 'method, scheme and host must be strings';
  }
  if (!ACTIONS.has(e.action)) return `unknown action ${JSON.stringify(e.action)}`;
  if (e.kind !== undefined && !KINDS.has(e.kind)) return `unknown kind ${JSON.stringify(e.kind)}`;
  if (typeof e.reason !== 'string') return 'reason must be a string';
  if (e.claimedUser !== undefined && e.claimedUser !== null && typeof e.claimedUser !== 'string')
    return 'claimedUser must be a string or null';
  if (e.selftestRun !== undefined && e.selftestRun !== null && typeof e.selftestRun !== 'string')
    return 'selftestRun must be a string or null';
  if (e.site !== undefined && e.site !== null && typeof e.site !== 'string')
    return 'site must be a string or null';
  if (!Array.isArray(e.categories) || e.categories.some((c) => typeof c !== 'string')) {
    return 'categories must be an array of strings';
  }
  if (e.port !== null && e.port !== undefined && !Number.isInteger(e.port)) return 'port must be an integer';
  if (e.status !== null && e.status !== undefined && !Number.isInteger(e.status)) {
    return 'status must be an integer';
  }
  return null;
}

const orNull = <T>(v: T | null | undefined): T | null => (v === undefined ? null : v);

export function eventToRow(e: AuditEvent): EventRow {
  return {
    id: e.id,
    time_ms: Math.trunc(e.time),
    username: orNull(e.user),
    profile: orNull(e.profile),
    client_ip: e.clientIp,
    device: orNull(e.device),
    method: e.method,
    scheme: e.scheme,
    host: e.host,
    port: orNull(e.port),
    path: orNull(e.path),
    categories: JSON.stringify([...new Set(e.categories)].sort()),
    action: e.action,
    rule: orNull(e.rule),
    reason: e.reason,
    flagged: e.flagged ? 1 : 0,
    status: orNull(e.status),
    kind: e.kind ?? 'request',
    search_term: orNull(e.searchTerm),
    search_engine: orNull(e.searchEngine),
    rewrites: e.rewrites && e.rewrites.length > 0 ? JSON.stringify(e.rewrites) : null,
    note: orNull(e.note),
    claimed_user: orNull(e.claimedUser),
    selftest_run: orNull(e.selftestRun),
    site: orNull(e.site),
  };
}

const nonNegativeInt = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.round(n) : 0);

export function outcomeToRow(id: string, o: AuditOutcome, now: number): OutcomeRow {
  return {
    id,
    status: Number.isInteger(o.status) ? o.status : null,
    bytes_in: nonNegativeInt(o.bytesIn),
    bytes_out: nonNegativeInt(o.bytesOut),
    duration_ms: nonNegativeInt(o.durationMs),
    completed_ms: now,
  };
}

/** The raw shape better-sqlite3 returns for `SELECT * FROM audit_events`. */
export interface RawRow extends Omit<
  EventRow,
  'flagged' | 'kind' | 'claimed_user' | 'selftest_run' | 'site'
> {
  /** Schema 4 (absent when a database of an older schema is read). */
  claimed_user?: string | null;
  /** Schema 7 (absent likewise). */
  selftest_run?: string | null;
  /** Schema 12 (absent likewise). */
  site?: string | null;
  kind: 'request' | 'tunnel' | 'inspected';
  flagged: number;
  bytes_in: number | null;
  bytes_out: number | null;
  duration_ms: number | null;
  completed_ms: number | null;
  /** Schema 3: place in the hash chain (null only for rows written around the writer). */
  seq?: number | null;
  chain_hash?: string | null;
  outcome_hash?: string | null;
}

export function rowToStored(r: RawRow): StoredAuditRow {
  return {
    id: r.id,
    time: r.time_ms,
    user: r.username,
    profile: r.profile,
    clientIp: r.client_ip,
    device: r.device,
    method: r.method,
    scheme: r.scheme,
    host: r.host,
    port: r.port,
    path: r.path,
    categories: JSON.parse(r.categories) as string[],
    action: r.action as AuditAction,
    rule: r.rule,
    reason: r.reason,
    flagged: r.flagged === 1,
    status: r.status,
    kind: r.kind,
    searchTerm: r.search_term,
    searchEngine: r.search_engine,
    rewrites: r.rewrites === null ? null : (JSON.parse(r.rewrites) as string[]),
    note: r.note,
    claimedUser: r.claimed_user ?? null,
    selftestRun: r.selftest_run ?? null,
    ...(r.site ? { site: r.site } : {}),
    bytesIn: r.bytes_in,
    bytesOut: r.bytes_out,
    durationMs: r.duration_ms,
    completedMs: r.completed_ms,
  };
}
