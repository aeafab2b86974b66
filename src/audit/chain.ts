/**
 * Tamper evidence: a hash chain over the audit rows, computed by the writer as it inserts them.
 *
 * - Every row gets `seq` (1, 2, 3, ... in insertion order) and
 *   `chain_hash = sha256(previous row's chain_hash + "\n" + JSON of this row's decision-time columns)`.
 *   The decision-time columns are fixed when the row is written: who, when, where, what was decided and why,
 *   the search term and the note. `status` is not among them, because complete() may later overwrite it.
 * - The outcome columns (status, bytes_in, bytes_out, duration_ms, completed_ms) are updated by complete() in a
 *   later batch, so they cannot be in the chain link without rewriting every later row. Instead each row has
 *   `outcome_hash = sha256(chain_hash + "\n" + JSON of the outcome columns)`, written with the row and
 *   rewritten by every outcome update (through the `sg_outcome_hash` SQL function registered on the writer's
 *   connection). Editing an outcome column by hand breaks that row's outcome_hash; it cannot move to another
 *   row because it is bound to that row's chain_hash.
 * - `meta.chain_head` holds the last seq and hash, updated in every batch, so deleting the newest rows is
 *   detected as well (the head no longer matches the last row).
 * - A legitimate purge deletes rows and leaves `chain_gaps`: for each surviving row whose predecessor was
 *   deleted, the predecessor's hash. `verify` continues across a gap only where such an anchor exists.
 *
 * What this does and does not prove: with no secret key, someone who can write the file can recompute the
 * whole chain after an edit. The chain detects edits and deletions made with ordinary tools (sqlite3, a
 * script), and a head hash written down elsewhere (the weekly review prints it; `audit verify` prints it)
 * pins history up to that point: a later rewrite of earlier rows changes every hash after it.
 */
import { hash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { walkChain, type WalkResult } from './chain-walk.js';

export const GENESIS_HASH = '0'.repeat(64);

/** The decision-time columns in chain order. Never reorder: existing hashes depend on it. */
export const CHAINED_COLUMNS = [
  'seq',
  'id',
  'time_ms',
  'username',
  'profile',
  'client_ip',
  'device',
  'method',
  'scheme',
  'host',
  'port',
  'path',
  'categories',
  'action',
  'rule',
  'reason',
  'flagged',
  'kind',
  'search_term',
  'search_engine',
  'rewrites',
  'note',
] as const;

/**
 * Decision-time columns added after rows were already chained (schema 4+). A row hashes them only when one
 * is set, as one JSON object after CHAINED_COLUMNS, so every row written before they existed (all null)
 * keeps the hash it was written with, and a new row's value is covered: setting it on an old row, clearing
 * or editing it on a new one, all break the link. An object with its keys, not bare values, so a column
 * added later can never be read as this one. Append only.
 */
export const LATER_CHAINED_COLUMNS = ['claimed_user', 'selftest_run', 'site'] as const;

export type ChainedColumn = (typeof CHAINED_COLUMNS)[number];
export type LaterChainedColumn = (typeof LATER_CHAINED_COLUMNS)[number];
export type ChainedFields = Record<ChainedColumn, string | number | null> &
  Partial<Record<LaterChainedColumn, string | number | null>>;

export interface OutcomeFields {
  status: number | null;
  bytes_in: number | null;
  bytes_out: number | null;
  duration_ms: number | null;
  completed_ms: number | null;
}

// crypto.hash: one call per digest, no Hash object (half the CPU of createHash on rows this size).
function sha256(text: string): string {
  return hash('sha256', text, 'hex');
}

/** One link: `values` are a row's chained values in CHAINED_COLUMNS order (plus the later-columns object). */
export function chainLink(prevHash: string, values: readonly unknown[]): string {
  return linkOfJson(prevHash, JSON.stringify(values));
}

/** A link (chain or outcome) over values already in JSON (chain-sql.ts builds it in SQLite). */
export function linkOfJson(prevHash: string, json: string): string {
  return sha256(`${prevHash}\n${json}`);
}

export function rowHash(prevHash: string, row: ChainedFields): string {
  return chainLink(prevHash, chainedValues(row as Record<string, unknown>, ''));
}

/** rowHash of `row` at `seq`, without copying the row to give it one (the writer's hot path). */
export function rowHashAt(prevHash: string, row: Omit<ChainedFields, 'seq'>, seq: number): string {
  const values = chainedValues(row as Record<string, unknown>, '');
  values[0] = seq; // CHAINED_COLUMNS[0] is 'seq'
  return chainLink(prevHash, values);
}

/** Property names of the chained columns under a prefix ('' for a row, 'n_' for NEIGHBOUR_SELECT's next). */
const keysUnder = (prefix: string) => ({
  chained: CHAINED_COLUMNS.map((c) => `${prefix}${c}`),
  later: LATER_CHAINED_COLUMNS.map((c) => [c, `${prefix}${c}`] as const),
});
const ROW_KEYS = { '': keysUnder(''), n_: keysUnder('n_') };

/** A row's chained values in link order: the later columns as one object, only when one is set. */
export function chainedValues(row: Record<string, unknown>, prefix: keyof typeof ROW_KEYS): unknown[] {
  const keys = ROW_KEYS[prefix];
  const values: unknown[] = keys.chained.map((k) => row[k] ?? null);
  let later: Record<string, unknown> | null = null;
  for (const [c, k] of keys.later) {
    const v = row[k];
    if (v !== null && v !== undefined) (later ??= {})[c] = v;
  }
  if (later) values.push(later);
  return values;
}

export function outcomeHash(chainHash: string, o: OutcomeFields): string {
  return outcomeLink(chainHash, [o.status, o.bytes_in, o.bytes_out, o.duration_ms, o.completed_ms]);
}

/** `values`: status, bytes_in, bytes_out, duration_ms, completed_ms, in that order. */
export function outcomeLink(chainHash: string, values: readonly unknown[]): string {
  return sha256(`${chainHash}\n${JSON.stringify(values)}`);
}

/** Registers sg_outcome_hash(chain_hash, status, bytes_in, bytes_out, duration_ms, completed_ms). */
export function registerChainFunctions(db: Database.Database): void {
  db.function(
    'sg_outcome_hash',
    { deterministic: true },
    (chain: unknown, status: unknown, bytesIn: unknown, bytesOut: unknown, dur: unknown, done: unknown) => {
      if (typeof chain !== 'string') return null;
      const n = (v: unknown): number | null =>
        typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : null;
      return outcomeHash(chain, {
        status: n(status),
        bytes_in: n(bytesIn),
        bytes_out: n(bytesOut),
        duration_ms: n(dur),
        completed_ms: n(done),
      });
    },
  );
}

export interface ChainHead {
  seq: number;
  hash: string;
}

export function readHead(db: Database.Database): ChainHead {
  const value = db.prepare(`SELECT value FROM meta WHERE key = 'chain_head'`).pluck().get() as
    string | undefined;
  return parseHead(value);
}

export function parseHead(value: string | undefined): ChainHead {
  const m = value ? /^(\d+):([0-9a-f]{64})$/.exec(value) : null;
  return m ? { seq: Number(m[1]), hash: m[2]! } : { seq: 0, hash: GENESIS_HASH };
}

export const WRITE_HEAD_SQL = `INSERT OR REPLACE INTO meta (key, value) VALUES ('chain_head', ?)`;
export const READ_HEAD_SQL = `SELECT value FROM meta WHERE key = 'chain_head'`;
export const formatHead = (h: ChainHead): string => `${h.seq}:${h.hash}`;

/** Host labels reversed ('m.facebook.com' → 'com.facebook.m'): a domain's subdomains share a prefix. */
export function reverseHost(host: string): string {
  return host.split('.').reverse().join('.');
}

/** Chains rows written before schema 3, in rowid (insertion) order. Runs inside migration 3's transaction. */
export function backfillChain(db: Database.Database): void {
  const page = db.prepare(
    `SELECT rowid AS rid, * FROM audit_events WHERE rowid > ? AND seq IS NULL ORDER BY rowid LIMIT 5000`,
  );
  const set = db.prepare(`UPDATE audit_events SET seq = ?, chain_hash = ?, outcome_hash = ? WHERE rowid = ?`);
  let head: ChainHead = { seq: 0, hash: GENESIS_HASH };
  let after = 0;
  for (;;) {
    const rows = page.all(after) as (ChainedFields & OutcomeFields & { rid: number })[];
    if (rows.length === 0) break;
    for (const r of rows) {
      const seq = head.seq + 1;
      const hash = rowHash(head.hash, { ...r, seq });
      set.run(seq, hash, outcomeHash(hash, r), r.rid);
      head = { seq, hash };
      after = r.rid;
    }
  }
  db.prepare(WRITE_HEAD_SQL).run(formatHead(head));
  const hosts = db.prepare(`SELECT DISTINCT host FROM audit_events`).pluck().all() as string[];
  const addHost = db.prepare(`INSERT OR IGNORE INTO audit_hosts (rev, host) VALUES (?, ?)`);
  for (const h of hosts) addHost.run(reverseHost(h), h);
}

// ---- verification ------------------------------------------------------------------------------------------

export interface ChainBreak {
  seq: number | null;
  id: string | null;
  reason: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Rows whose hashes were checked. */
  rows: number;
  /** Gaps crossed on a purge anchor. */
  anchoredGaps: number;
  head: ChainHead;
  firstBreak: ChainBreak | null;
}

export type VerifyRow = ChainedFields &
  OutcomeFields & { seq: number; id: string; chain_hash: string | null; outcome_hash: string | null };

/** Walks the rows after `from` (genesis, or a verified position) up to `head` and says how far it got. */
export type ChainWalker = (head: ChainHead, from: ChainHead) => WalkResult;

export const GENESIS: ChainHead = { seq: 0, hash: GENESIS_HASH };

/**
 * Walks the whole chain in seq order, up to the head recorded when it starts, in pages (each page one short
 * read, so the proxy's writer and checkpoints carry on), and reports the first break.
 * `onProgress` is called after each page with the rows checked so far. `walker` replaces the walk itself
 * (verify-parallel.ts checks ranges side by side); the checks of the head and of unchained rows stay here.
 * `from`: start after this row instead of genesis (verified-position.ts has checked it is still there).
 */
export function verifyChain(
  db: Database.Database,
  onProgress?: (rows: number) => void,
  walker?: ChainWalker,
  from: ChainHead = GENESIS,
): VerifyResult {
  const head = parseHead(db.prepare(READ_HEAD_SQL).pluck().get() as string | undefined);
  const result = (rows: number, gaps: number, brk: ChainBreak | null): VerifyResult => ({
    ok: brk === null,
    rows,
    anchoredGaps: gaps,
    head,
    firstBreak: brk,
  });
  const unchained = db
    .prepare(`SELECT id FROM audit_events WHERE seq IS NULL ORDER BY seq LIMIT 1`)
    .pluck()
    .get() as string | undefined;
  // Rows the writer adds while we walk (beyond the head read above) are newer than this check: not walked.
  const walked = walker ? walker(head, from) : walkChain(db, from, head.seq, onProgress);
  const { rows, gaps, last: prev } = walked;
  const gapAt = db.prepare(`SELECT prev_hash FROM chain_gaps WHERE seq = ?`).pluck();
  if (walked.firstBreak) return result(rows, gaps, walked.firstBreak);
  if (unchained !== undefined) {
    return result(rows, gaps, {
      seq: null,
      id: unchained,
      reason: 'a row has no place in the chain (inserted without the audit writer)',
    });
  }
  return result(
    rows,
    gaps,
    headBreak(head, prev, (seq) => gapAt.get(seq) as string | undefined),
  );
}

/**
 * After a walk that ended at `last` without a break: does the recorded head agree? A head beyond the last
 * row means the newest rows were deleted, unless a purge anchored the gap after the head; a head at the
 * last row with another hash means that row was rewritten. Shared by the SQLite and PostgreSQL verifies.
 */
export function headBreak(
  head: ChainHead,
  last: ChainHead,
  gapAt: (seq: number) => string | undefined,
): ChainBreak | null {
  if (head.seq > last.seq) {
    if (gapAt(head.seq + 1) !== head.hash)
      return {
        seq: last.seq + 1,
        id: null,
        reason: `the newest rows (seq ${last.seq + 1}..${head.seq}) are missing`,
      };
  } else if (head.hash !== last.hash) {
    return { seq: head.seq, id: null, reason: 'the last row does not match the recorded chain head' };
  }
  return null;
}
