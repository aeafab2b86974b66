/**
 * Where the last walk of `audit verify` got to, so the next one can start there (`--since-verified`): the
 * seq and chain hash of the last row walked, signed with the checkpoint key (checkpoints.ts). Someone who
 * can write the files but not read the key cannot move the position forward past rows they changed, nor
 * forge one for a database they rewrote; replaying an older genuine position only makes the next walk
 * longer.
 *
 * What starting there proves: the rows after the position link to the row at it, and that row still has
 * the hash that was walked to. Any rewrite of earlier rows that keeps the chain valid must recompute every
 * hash after the change, that row's included, so it is caught here (and by the latest signed checkpoint,
 * whose row hash is checked the same way). What it does not re-check: an earlier row edited without its
 * hash recomputed (a plain edit breaks only its own link, which is not walked again), an earlier row
 * deleted, an earlier row's outcome columns. Those need the full walk (`audit verify`, the default).
 */
import { sign as signBytes, verify as verifyBytes, type KeyObject } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { ChainHead } from './chain.js';
import type { SigningKey } from './checkpoints.js';

export interface VerifiedPosition {
  database_id: string;
  seq: number;
  hash: string;
  /** When the walk that reached it ended, and when the last walk from genesis did. */
  at_ms: number;
  full_at_ms: number;
  sig: string;
}

/** The bytes signed; the first element keeps a position's signature from passing for a checkpoint's. */
function signedText(p: Omit<VerifiedPosition, 'sig'>): Buffer {
  return Buffer.from(
    JSON.stringify(['schoolgate verified position', 1, p.database_id, p.seq, p.hash, p.at_ms, p.full_at_ms]),
    'utf8',
  );
}

export function signPosition(p: Omit<VerifiedPosition, 'sig'>, key: SigningKey): VerifiedPosition {
  return { ...p, sig: signBytes(null, signedText(p), key.privateKey).toString('base64') };
}

function genuine(p: VerifiedPosition, publicKey: KeyObject): boolean {
  try {
    return verifyBytes(null, signedText(p), publicKey, Buffer.from(p.sig, 'base64'));
  } catch {
    return false;
  }
}

export type ResumePoint =
  | { kind: 'resume'; from: ChainHead; fullAtMs: number }
  /** No usable position: walk from genesis; `why` is said as a note. */
  | { kind: 'full'; why: string }
  /** The position is genuine but the database no longer holds what was walked: a break. */
  | { kind: 'break'; seq: number; id: string | null; reason: string };

/** Where an incremental walk may start, after checking the position against the key and the database. */
export function resumePoint(
  db: Database.Database,
  p: VerifiedPosition | undefined,
  key: SigningKey | null,
): ResumePoint {
  if (!p) return { kind: 'full', why: 'no verified position recorded yet' };
  if (!key)
    return { kind: 'full', why: 'the signing key is missing, so the verified position cannot be checked' };
  if (!genuine(p, key.publicKey))
    return { kind: 'full', why: 'the recorded verified position is not signed by this key (ignored)' };
  const id = db.prepare(`SELECT value FROM meta WHERE key = 'database_id'`).pluck().get() as
    string | undefined;
  if (p.database_id !== (id ?? ''))
    return { kind: 'full', why: 'the verified position is of another database' };
  const from = { seq: p.seq, hash: p.hash };
  if (p.seq === 0) return { kind: 'resume', from, fullAtMs: p.full_at_ms };
  const row = db.prepare(`SELECT id, chain_hash FROM audit_events WHERE seq = ?`).get(p.seq) as
    { id: string; chain_hash: string | null } | undefined;
  if (row) {
    if (row.chain_hash === p.hash) return { kind: 'resume', from, fullAtMs: p.full_at_ms };
    return {
      kind: 'break',
      seq: p.seq,
      id: row.id,
      reason: 'the row at the last verified position differs from what was verified (history was rewritten)',
    };
  }
  // Purged since: the anchor left for the row after it still holds its hash, or the walk starts again.
  const anchor = db
    .prepare(`SELECT prev_hash FROM chain_gaps WHERE seq = ?`)
    .pluck()
    .get(p.seq + 1) as string | undefined;
  if (anchor === p.hash) return { kind: 'resume', from, fullAtMs: p.full_at_ms };
  if (anchor !== undefined)
    return {
      kind: 'break',
      seq: p.seq,
      id: null,
      reason: 'the purge anchor at the last verified position differs from what was verified',
    };
  return { kind: 'full', why: `the row at the verified position (seq ${p.seq}) was purged since` };
}
