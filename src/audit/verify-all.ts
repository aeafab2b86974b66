/**
 * `audit verify` as one function: the row chain (chain.ts), the ledger (ledger.ts) and the signed
 * checkpoints (verify-checkpoints.ts), on a read-only connection — a check leaves the bytes it checks
 * unchanged; its result goes to a file beside the database (last-verify.ts). A damaged file is an SG code.
 */
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { SchoolgateError } from '../errors.js';
import { GENESIS, parseHead, READ_HEAD_SQL, verifyChain, type VerifyResult } from './chain.js';
import {
  checkpointFilePath,
  parseCheckpoint,
  readCheckpoints,
  readSigningKey,
  signingKeyPath,
} from './checkpoints.js';
import { readLastVerify, writeLastVerify, type LastVerify } from './last-verify.js';
import { verifyLedger, type LedgerVerifyResult } from './ledger.js';
import { sqliteCode } from './open-database.js';
import { resumePoint, signPosition, type ResumePoint } from './verified-position.js';
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
  /** Set when the row chain was walked only after a verified position (`--since-verified`). */
  since: { seq: number; fullAtMs: number } | null;
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
    /** Walk the row chain only after the last verified position (verified-position.ts says what that skips). */
    sinceVerified?: boolean;
  } = {},
): AuditVerifyResult {
  const db = openForCheck(dbPath);
  const now = opts.now ?? Date.now();
  try {
    db.pragma('query_only = ON');
    db.pragma('busy_timeout = 5000');
    const walker = parallelWalker(dbPath, db, {
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      ...(opts.minRowsPerThread !== undefined ? { minRowsPerThread: opts.minRowsPerThread } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    const key = readSigningKey(signingKeyPath(dbPath));
    const previous = readLastVerify(dbPath);
    const resume: ResumePoint = opts.sinceVerified
      ? resumePoint(db, previous?.verified, key)
      : { kind: 'full', why: '' };
    const chain: VerifyResult =
      resume.kind === 'break'
        ? {
            ok: false,
            rows: 0,
            anchoredGaps: 0,
            head: parseHead(db.prepare(READ_HEAD_SQL).pluck().get() as string | undefined),
            firstBreak: resume,
          }
        : verifyChain(db, opts.onProgress, walker, resume.kind === 'resume' ? resume.from : GENESIS);
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
    const checkpoints = verifyCheckpoints(db, lines, key?.publicKey ?? null, { torn });
    const notes = [...checkpoints.notes];
    if (resume.kind === 'full' && resume.why) notes.push(`walked the whole chain: ${resume.why}`);
    if (resume.kind === 'resume')
      notes.push(
        `walked only the rows after the verified position (seq ${resume.from.seq}); earlier rows were last ` +
          `walked in full at ${new Date(resume.fullAtMs).toISOString()} (run without --since-verified to walk them again)`,
      );
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
      writeLastVerify(dbPath, nextLastVerify(db, { previous, resume, ok, message, chain, key, now }));
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
      since: resume.kind === 'resume' ? { seq: resume.from.seq, fullAtMs: resume.fullAtMs } : null,
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

/**
 * What the last-verify file holds after this check: a full check replaces it; an incremental one that passed
 * keeps the last full check's result and moves the position on; any break is recorded and drops the position,
 * so the next check walks from genesis.
 */
function nextLastVerify(
  db: Database.Database,
  c: {
    previous: LastVerify | null;
    resume: ResumePoint;
    ok: boolean;
    message: string | null;
    chain: VerifyResult;
    key: ReturnType<typeof readSigningKey>;
    now: number;
  },
): LastVerify {
  const result: LastVerify = { atMs: c.now, ok: c.ok, rows: c.chain.rows, firstBreak: c.message };
  if (!c.ok || !c.key) return result;
  const incremental = c.resume.kind === 'resume' && c.previous ? c.resume : null;
  const id = db.prepare(`SELECT value FROM meta WHERE key = 'database_id'`).pluck().get() as
    string | undefined;
  const verified = signPosition(
    {
      database_id: id ?? '',
      seq: c.chain.head.seq,
      hash: c.chain.head.hash,
      at_ms: c.now,
      full_at_ms: incremental ? incremental.fullAtMs : c.now,
    },
    c.key,
  );
  if (!incremental || !c.previous) return { ...result, verified };
  return {
    atMs: c.previous.atMs,
    ok: c.previous.ok,
    rows: c.previous.rows,
    firstBreak: c.previous.firstBreak,
    verified,
    sinceVerified: { atMs: c.now, rows: c.chain.rows, fromSeq: incremental.from.seq },
  };
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
