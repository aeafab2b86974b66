/**
 * Pure: is the audit database on disk the one the head file (head-file.ts) says the writer last wrote?
 * start-check.ts gathers the facts; this decides. Any doubt refuses: a missing, emptied, swapped or
 * rolled-back database must never become a fresh chain without a word.
 */
import type { HeadFileRead, RecordedHead } from './head-file.js';

export interface DatabaseFacts {
  /** PRAGMA user_version: 0 means no audit schema (a new or emptied file). */
  schemaVersion: number;
  databaseId: string | null;
  createdMs: number | null;
  /** seq of meta.chain_head (0 when the chain is empty). */
  headSeq: number;
  /** chain_hash of the row at the recorded seq, or null when no such row exists. */
  hashAtRecordedSeq: string | null;
  /** A purge recorded in this database removed rows up to the recorded one and left its anchor. */
  purgeExplainsMissingRow: boolean;
}

/** No database to open: no file, or a file of 0 bytes; strayWal: a -wal with content beside it. */
export type NoDatabase = { kind: 'missing' | 'zero-length'; strayWal: boolean };

export type FoundDatabase = NoDatabase | { kind: 'database'; facts: DatabaseFacts };

export type HeadVerdict =
  | { ok: true; recorded: RecordedHead | null }
  | { ok: false; code: 'SG_AUDIT_DAMAGED' | 'SG_AUDIT_REPLACED'; reason: string };

const when = (ms: number | null): string => (ms === null ? 'unknown' : new Date(ms).toISOString());

function describe(h: RecordedHead): string {
  return `seq ${h.seq} of database ${h.database_id} (created ${when(h.created_ms)}), recorded ${when(h.written_ms)}`;
}

export function judgeHead(head: HeadFileRead, found: FoundDatabase): HeadVerdict {
  if (head.kind === 'unreadable')
    return { ok: false, code: 'SG_AUDIT_DAMAGED', reason: `the head file is unreadable (${head.reason})` };
  const refuse = (reason: string): HeadVerdict => ({ ok: false, code: 'SG_AUDIT_REPLACED', reason });
  // A write-ahead log without its database would be replayed into a new, empty file.
  if (found.kind !== 'database' && found.strayWal)
    return refuse(`its -wal file is there but the database file is ${found.kind}`);
  if (head.kind === 'absent') return { ok: true, recorded: null };
  const h = head.head;
  if (found.kind !== 'database')
    return refuse(
      `the database file is ${found.kind === 'missing' ? 'missing' : 'empty (0 bytes)'}; the head file records ${describe(h)}`,
    );
  const f = found.facts;
  if (f.schemaVersion === 0)
    return refuse(`the database holds no audit records; the head file records ${describe(h)}`);
  if (f.databaseId !== h.database_id)
    return refuse(
      `it is another audit database (${f.databaseId ?? 'no database_id'}, created ${when(f.createdMs)}); ` +
        `the head file records ${describe(h)}`,
    );
  if (f.headSeq < h.seq)
    return refuse(
      `its chain ends at seq ${f.headSeq}, before the recorded seq ${h.seq}: newer rows are gone (an older copy?)`,
    );
  if (f.hashAtRecordedSeq !== null && f.hashAtRecordedSeq !== h.chain_hash)
    return refuse(`row seq ${h.seq} does not match the recorded chain hash: the chain was rewritten`);
  if (f.hashAtRecordedSeq === null && h.seq > 0 && !f.purgeExplainsMissingRow)
    return refuse(`row seq ${h.seq} (the recorded head) is missing and no purge explains it`);
  return { ok: true, recorded: h };
}
