/**
 * The checkpoint half of `audit verify`: are the signed checkpoints genuine, and does the database still
 * hold what the latest one signed? Pure over a read-only connection and the checkpoint lines.
 */
import type { KeyObject } from 'node:crypto';
import type Database from 'better-sqlite3';
import { parseHead, READ_HEAD_SQL, type ChainBreak } from './chain.js';
import { checkSignature, type Checkpoint, type CheckpointLine } from './checkpoints.js';

export interface CheckpointVerdict {
  ok: boolean;
  /** Checkpoints of this database whose signature was checked. */
  checked: number;
  latest: Checkpoint | null;
  /** Audit rows written after the latest checkpoint (not yet signed: normal for up to a minute). */
  unsignedRows: number;
  firstBreak: ChainBreak | null;
  /** Something a reader should know that is not a break (no checkpoint yet, a torn last line). */
  notes: string[];
}

/**
 * `torn`: the file did not end with a newline, so an invalid last line is a write cut by a crash, not an
 * edit. Checkpoints of other databases (a database started anew with --new-audit-database) are skipped.
 */
export function verifyCheckpoints(
  db: Database.Database,
  lines: CheckpointLine[],
  publicKey: KeyObject | null,
  opts: { torn: boolean },
): CheckpointVerdict {
  const databaseId = db.prepare(`SELECT value FROM meta WHERE key = 'database_id'`).pluck().get() as
    string | undefined;
  const head = parseHead(db.prepare(READ_HEAD_SQL).pluck().get() as string | undefined);
  const notes: string[] = [];
  let checked = 0;
  let latest: Checkpoint | null = null;
  const verdict = (firstBreak: ChainBreak | null, unsignedRows = 0): CheckpointVerdict => ({
    ok: firstBreak === null,
    checked,
    latest,
    unsignedRows,
    firstBreak,
    notes,
  });
  const brk = (seq: number | null, reason: string) => verdict({ seq, id: null, reason });

  for (const [i, l] of lines.entries()) {
    if ('invalid' in l) {
      if (opts.torn && i === lines.length - 1) {
        notes.push(`the checkpoint file's last line was cut short (a crash while writing it): ignored`);
        continue;
      }
      return brk(null, `checkpoint file line ${l.line} is ${l.invalid} (the file was edited)`);
    }
    const c = l.checkpoint;
    if (c.database_id !== databaseId) continue;
    if (!publicKey) return brk(null, 'there are signed checkpoints but the signing key is missing');
    if (!checkSignature(c, publicKey))
      return brk(
        c.seq,
        `checkpoint file line ${l.line} has a signature that does not verify (forged or edited)`,
      );
    if (latest && (c.seq < latest.seq || c.ledger_seq < latest.ledger_seq))
      return brk(c.seq, `checkpoint file line ${l.line} goes backwards from line before it`);
    checked++;
    latest = c;
  }
  if (!latest) {
    notes.push('no signed checkpoint of this database yet (it is written when the proxy opens it)');
    return verdict(null);
  }

  // The heads may only have moved forward since.
  if (head.seq < latest.seq)
    return brk(
      head.seq,
      `the chain head (seq ${head.seq}) is behind the latest signed checkpoint (seq ${latest.seq}): the newest rows were deleted`,
    );
  const signedRow = db.prepare(`SELECT id, chain_hash FROM audit_events WHERE seq = ?`).get(latest.seq) as
    { id: string; chain_hash: string } | undefined;
  if (latest.seq > 0 && signedRow && signedRow.chain_hash !== latest.hash)
    return verdict({
      seq: latest.seq,
      id: signedRow.id,
      reason: 'the row at the latest signed checkpoint differs from what was signed (history was rewritten)',
    });
  if (latest.seq > 0 && !signedRow) {
    const anchor = db
      .prepare(`SELECT prev_hash FROM chain_gaps WHERE seq = ?`)
      .pluck()
      .get(latest.seq + 1) as string | undefined;
    if (anchor !== undefined && anchor !== latest.hash)
      return brk(latest.seq, 'the purge anchor at the latest signed checkpoint differs from what was signed');
    if (anchor === undefined)
      notes.push(`the row at the latest checkpoint (seq ${latest.seq}) was purged since`);
  }
  const ledger = db.prepare(`SELECT hash FROM ledger WHERE seq = ?`).pluck().get(latest.ledger_seq) as
    string | undefined;
  const ledgerMax = (db.prepare(`SELECT max(seq) FROM ledger`).pluck().get() as number | null) ?? 0;
  if (ledgerMax < latest.ledger_seq)
    return brk(
      null,
      `the ledger (seq ${ledgerMax}) is behind the latest signed checkpoint (seq ${latest.ledger_seq}): entries were deleted`,
    );
  if (latest.ledger_seq > 0 && ledger !== latest.ledger_hash)
    return brk(
      null,
      'the ledger differs from what the latest checkpoint signed (cases, notes or access were rewritten)',
    );

  const unsigned = head.seq - latest.seq;
  // A clean stop signs the last row: anything after it was not written by the proxy.
  if (latest.reason === 'close' && unsigned > 0)
    return brk(
      latest.seq + 1,
      `${unsigned} row(s) after the proxy's last clean stop are not covered by a signed checkpoint (appended outside the proxy)`,
    );
  return verdict(null, unsigned);
}

/** Checks one filed checkpoint (audit verify --against): signed by this key, and still in the database. */
export function checkFiledCheckpoint(
  db: Database.Database,
  filed: Checkpoint,
  publicKey: KeyObject,
): string | null {
  if (!checkSignature(filed, publicKey)) return 'the filed checkpoint is not signed by this proxy’s key';
  const head = parseHead(db.prepare(READ_HEAD_SQL).pluck().get() as string | undefined);
  if (head.seq < filed.seq)
    return `the chain head (seq ${head.seq}) is behind the filed checkpoint (seq ${filed.seq})`;
  const row = db.prepare(`SELECT chain_hash FROM audit_events WHERE seq = ?`).pluck().get(filed.seq) as
    string | undefined;
  if (row !== undefined && row !== filed.hash)
    return `the row at seq ${filed.seq} differs from the filed checkpoint`;
  const ledger = db.prepare(`SELECT hash FROM ledger WHERE seq = ?`).pluck().get(filed.ledger_seq) as
    string | undefined;
  if (filed.ledger_seq > 0 && ledger !== filed.ledger_hash)
    return `the ledger entry at seq ${filed.ledger_seq} differs from the filed checkpoint`;
  return null;
}
