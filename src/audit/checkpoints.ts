/**
 * Signed checkpoints (the model: Certificate Transparency's signed tree heads, RFC 9162). The chains over
 * the audit rows (chain.ts) and the ledger (ledger.ts) can be recomputed by anyone who can write the
 * database; what they cannot do is sign. So the writer signs, with an Ed25519 key kept in its own file
 * (`keys/audit-signing.key` beside the database, 0600), a checkpoint of both heads:
 *
 *   { v: 1, database_id, seq, hash, ledger_seq, ledger_hash, time_ms, reason, sig }
 *
 * appended as one JSON line to `audit.checkpoints` — at open, at least every minute while either head
 * moves, at a clean stop and after every purge. `audit verify` checks the signatures and that the database
 * still holds what the latest checkpoint signed: a head that moved backwards (newest rows deleted), a row
 * changed before it, rows appended after a clean stop, all fail. A DSL files `audit checkpoint export`'s
 * line in the weekly review; `audit verify --against FILE` checks a filed one, so even a rewrite of the
 * checkpoint file itself is caught against paper.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as signBytes,
  verify as verifyBytes,
  type KeyObject,
} from 'node:crypto';
import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { makePrivateDir, PRIVATE_FILE_MODE } from '../app/file-modes.js';
import { parseHead, READ_HEAD_SQL } from './chain.js';
import { readLedgerHead } from './ledger.js';

/** When it was signed: the writer's open, minute and clean stop; after a purge; after a CLI appended rows. */
export const CHECKPOINT_REASONS = ['open', 'minute', 'close', 'purge', 'append'] as const;
export type CheckpointReason = (typeof CHECKPOINT_REASONS)[number];

const HASH = z.string().regex(/^[0-9a-f]{64}$/);
const CheckpointSchema = z
  .object({
    v: z.literal(1),
    database_id: z.string(),
    seq: z.number().int().nonnegative(),
    hash: HASH,
    ledger_seq: z.number().int().nonnegative(),
    ledger_hash: HASH,
    time_ms: z.number().int().nonnegative(),
    reason: z.enum(CHECKPOINT_REASONS),
    sig: z.string().regex(/^[A-Za-z0-9+/]+=*$/),
  })
  .strict();

export type Checkpoint = z.infer<typeof CheckpointSchema>;
export type CheckpointBody = Omit<Checkpoint, 'sig'>;

/** `…/audit.sqlite` → `…/audit.checkpoints`. */
export function checkpointFilePath(dbPath: string): string {
  const resolved = path.resolve(dbPath);
  return `${resolved.endsWith('.sqlite') ? resolved.slice(0, -'.sqlite'.length) : resolved}.checkpoints`;
}

/** The signing key lives in its own folder beside the database, never in it. */
export function signingKeyPath(dbPath: string): string {
  return path.join(path.dirname(path.resolve(dbPath)), 'keys', 'audit-signing.key');
}

/** The bytes signed: the body's fields in a fixed order, so a reader in another language can check it. */
export function signedText(b: CheckpointBody): string {
  return JSON.stringify([
    b.v,
    b.database_id,
    b.seq,
    b.hash,
    b.ledger_seq,
    b.ledger_hash,
    b.time_ms,
    b.reason,
  ]);
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key, SPKI DER base64: what a filed checkpoint is checked with. */
  publicKeyText: string;
}

/** Reads the signing key, creating it (0600, in a 0700 folder) the first time. */
export function loadOrCreateSigningKey(file: string): SigningKey {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    makePrivateDir(path.dirname(file));
    const { privateKey } = generateKeyPairSync('ed25519');
    pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeFileSync(file, pem, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  }
  return keyFromPem(pem);
}

/** Reads the key without creating one (verify and export: a missing key is a finding, not a fresh start). */
export function readSigningKey(file: string): SigningKey | null {
  try {
    return keyFromPem(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function keyFromPem(pem: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    publicKeyText: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

export function publicKeyFromText(text: string): KeyObject {
  return createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
}

/** Both heads as the database holds them now. */
export function currentBody(db: Database.Database, reason: CheckpointReason, nowMs: number): CheckpointBody {
  const head = parseHead(db.prepare(READ_HEAD_SQL).pluck().get() as string | undefined);
  const ledger = readLedgerHead(db);
  const id = db.prepare(`SELECT value FROM meta WHERE key = 'database_id'`).pluck().get() as
    string | undefined;
  return {
    v: 1,
    database_id: id ?? '',
    seq: head.seq,
    hash: head.hash,
    ledger_seq: ledger.seq,
    ledger_hash: ledger.hash,
    time_ms: nowMs,
    reason,
  };
}

export function signCheckpoint(body: CheckpointBody, key: SigningKey): Checkpoint {
  const sig = signBytes(null, Buffer.from(signedText(body), 'utf8'), key.privateKey).toString('base64');
  return { ...body, sig };
}

export function checkSignature(c: Checkpoint, publicKey: KeyObject): boolean {
  return verifyBytes(null, Buffer.from(signedText(c), 'utf8'), publicKey, Buffer.from(c.sig, 'base64'));
}

/** Appends one line and syncs it (O_APPEND: the writer and a CLI purge may both append). */
export function appendCheckpoint(file: string, c: Checkpoint): void {
  const fd = openSync(file, 'a', PRIVATE_FILE_MODE);
  try {
    appendFileSync(fd, `${JSON.stringify(c)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Signs and appends a checkpoint of the database as it is now; returns it. */
export function writeCheckpoint(
  db: Database.Database,
  dbPath: string,
  reason: CheckpointReason,
  nowMs: number,
  key: SigningKey = loadOrCreateSigningKey(signingKeyPath(dbPath)),
): Checkpoint {
  const c = signCheckpoint(currentBody(db, reason, nowMs), key);
  appendCheckpoint(checkpointFilePath(dbPath), c);
  return c;
}

export type CheckpointLine = { line: number; checkpoint: Checkpoint } | { line: number; invalid: string };

export function parseCheckpoint(text: string): Checkpoint | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const parsed = CheckpointSchema.safeParse(json);
  return parsed.success ? parsed.data : `not a checkpoint (${parsed.error.issues[0]?.path.join('.')})`;
}

/** Every line of the checkpoint file; [] when there is none. */
export function readCheckpoints(file: string): CheckpointLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: CheckpointLine[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    const c = parseCheckpoint(raw);
    out.push(typeof c === 'string' ? { line: i + 1, invalid: c } : { line: i + 1, checkpoint: c });
  });
  return out;
}
