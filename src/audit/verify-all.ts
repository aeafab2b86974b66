/**
 * `audit verify` as one function: the row chain (chain.ts), the ledger (ledger.ts) and the signed
 * checkpoints (verify-checkpoints.ts), on a read-only connection — a check leaves the bytes it checks
 * unchanged; its result goes to a file beside the database (last-verify.ts). A damaged file is an SG code.
 */
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { SchoolgateError } from '../errors.js';
import { verifyChain, type VerifyResult } from './chain.js';
import {
  checkpointFilePath,
  parseCheckpoint,
  readCheckpoints,
  readSigningKey,
  signingKeyPath,
} from './checkpoints.js';
import { writeLastVerify } from './last-verify.js';
import { verifyLedger, type LedgerVerifyResult } from './ledger.js';
import { sqliteCode } from './open-database.js';
import { parallelWalker } from './verify-parallel.js';
import { checkFiledCheckpoint, verifyCheckpoints, type CheckpointVerdict } from './verify-checkpoints.js';

export interface AuditBreak {
  /** Which record broke: the audit rows, the ledger, the checkpoints, or the filed checkpoint. */
  where: 'audit rows' | 'ledger' | 'checkpoints' | 'filed checkpoint';
  seq: number | null;
  id: string | null;
  reason: string;
}

export interface AuditVerifyResult {
  ok: boolean;
  /** Audit rows whose hashes were checked, purge gaps crossed, and the head walked to (as chain.ts says). */
  rows: number;
  anchoredGaps: number;
  head: VerifyResult['head'];
  firstBreak: AuditBreak | null;
  /** The first break as one line naming the record (for the error and the reports). */
  message: string | null;
  chain: VerifyResult;
  /** null: the database predates the ledger (opened by an older schoolgate only). */
  ledger: LedgerVerifyResult | null;
  checkpoints: CheckpointVerdict;
  notes: string[];
}

function describe(b: { seq: number | null; id: string | null; reason: string }, where: string): string {
  const at = [b.seq !== null ? `seq ${b.seq}` : null, b.id ? `ref ${b.id}` : null].filter(Boolean).join(', ');
  return `${where}${at ? ` (${at})` : ''}: ${b.reason}`;
}

export function openForCheck(dbPath: string): Database.Database {
  try {
    return new Database(dbPath, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new SchoolgateError(
      'SG_AUDIT_UNAVAILABLE',
      `Cannot open the audit database ${dbPath} for reading.`,
      {
        context: { path: dbPath, detail: err instanceof Error ? err.message : String(err) },
        suggestion: 'give --data (or --config) for the data directory the proxy uses',
      },
    );
  }
}

export function verifyAudit(
  dbPath: string,
  opts: {
    against?: string;
    onProgress?: (rows: number) => void;
    now?: number;
    /** Worker threads for the row chain (verify-parallel.ts); default the machine's cores. */
    threads?: number;
    minRowsPerThread?: number;
  } = {},
): AuditVerifyResult {
  const db = openForCheck(dbPath);
  try {
    db.pragma('query_only = ON');
    db.pragma('busy_timeout = 5000');
    const walker = parallelWalker(dbPath, db, {
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      ...(opts.minRowsPerThread !== undefined ? { minRowsPerThread: opts.minRowsPerThread } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    const chain = verifyChain(db, opts.onProgress, walker);
    const hasLedger = db
      .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger'`)
      .pluck()
      .get();
    const ledger = hasLedger ? verifyLedger(db) : null;
    const file = checkpointFilePath(dbPath);
    const lines = readCheckpoints(file);
    let torn = false;
    try {
      const text = readFileSync(file, 'utf8');
      torn = text.length > 0 && !text.endsWith('\n');
    } catch {
      // no file: no checkpoints
    }
    const key = readSigningKey(signingKeyPath(dbPath));
    const checkpoints = verifyCheckpoints(db, lines, key?.publicKey ?? null, { torn });
    const notes = [...checkpoints.notes];
    if (!ledger) notes.push('no ledger yet (the database has not been opened by this version of schoolgate)');
    let firstBreak: AuditBreak | null = null;
    if (chain.firstBreak) firstBreak = { where: 'audit rows', ...chain.firstBreak };
    else if (ledger?.firstBreak) firstBreak = { where: 'ledger', ...ledger.firstBreak };
    else if (checkpoints.firstBreak) firstBreak = { where: 'checkpoints', ...checkpoints.firstBreak };
    if (!firstBreak && opts.against) {
      const filed = parseCheckpoint(readFileSync(opts.against, 'utf8').split('\n')[0] ?? '');
      const wrong =
        typeof filed === 'string'
          ? `${opts.against} is ${filed}`
          : !key
            ? 'the signing key is missing, so it cannot be checked'
            : checkFiledCheckpoint(db, filed, key.publicKey);
      if (wrong) firstBreak = { where: 'filed checkpoint', seq: null, id: null, reason: wrong };
    }
    const ok = firstBreak === null;
    const message = firstBreak ? describe(firstBreak, firstBreak.where) : null;
    try {
      writeLastVerify(dbPath, { atMs: opts.now ?? Date.now(), ok, rows: chain.rows, firstBreak: message });
    } catch (err) {
      notes.push(
        `the result could not be kept for reports (${err instanceof Error ? err.message : String(err)})`,
      );
    }
    return {
      ok,
      rows: chain.rows,
      anchoredGaps: chain.anchoredGaps,
      head: chain.head,
      firstBreak,
      message,
      chain,
      ledger,
      checkpoints,
      notes,
    };
  } catch (err) {
    const code = sqliteCode(err);
    if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB')
      throw new SchoolgateError('SG_AUDIT_DAMAGED', `The audit database ${dbPath} is damaged (${code}).`, {
        context: { path: dbPath, sqliteCode: code },
        suggestion:
          'keep the file as evidence; start the proxy with --new-audit-database (see docs/errors.md SG_AUDIT_DAMAGED)',
        cause: err,
      });
    throw err;
  } finally {
    db.close();
  }
}

/** The latest checkpoint line of this database, and the public key that checks it. */
export function exportCheckpoint(dbPath: string): { line: string; publicKey: string } {
  const key = readSigningKey(signingKeyPath(dbPath));
  const lines = readCheckpoints(checkpointFilePath(dbPath));
  const db = openForCheck(dbPath);
  let id: string | undefined;
  try {
    id = db.prepare(`SELECT value FROM meta WHERE key = 'database_id'`).pluck().get() as string | undefined;
  } finally {
    db.close();
  }
  const latest = [...lines].reverse().find((l) => 'checkpoint' in l && l.checkpoint.database_id === id);
  if (!key || !latest || !('checkpoint' in latest))
    throw new SchoolgateError(
      'SG_AUDIT_UNAVAILABLE',
      'There is no signed checkpoint of this audit database yet.',
      {
        context: { path: dbPath },
        suggestion: 'start the proxy once (it signs a checkpoint when it opens the database)',
      },
    );
  return { line: JSON.stringify(latest.checkpoint), publicKey: key.publicKeyText };
}
