/**
 * The chain head recorded OUTSIDE the audit database (`data/audit.head` beside `data/audit.sqlite`).
 *
 * `meta.chain_head` inside the database moves with the file: a database swapped for another one, emptied,
 * or rolled back to an older copy carries its own consistent head. This file pins, at start, what the
 * writer last saw: which database (its random `database_id` and `created_ms`) and which row (seq,
 * chain_hash, time). start-check.ts compares it with the database before anything is written.
 *
 * The writer rewrites it at open, every minute while rows arrive and on a clean close; never on a
 * request's path. After a crash it names an older row that still exists, so a restart passes.
 * Written atomically (temp file, fsync, rename, fsync of the folder): a reader sees the old or the new
 * head, never half of one.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** `audit.sqlite` → `audit.head`; any other name gets `.head` appended. */
export function headFilePath(dbPath: string): string {
  const resolved = path.resolve(dbPath);
  return resolved.endsWith('.sqlite') ? `${resolved.slice(0, -'.sqlite'.length)}.head` : `${resolved}.head`;
}

const HASH = /^[0-9a-f]{64}$/;

const RecordedHeadSchema = z
  .object({
    version: z.literal(1),
    /** Random id written into the database's meta table when the writer first opened it. */
    database_id: z.string().regex(/^[0-9a-f]{32}$/),
    /** meta.created_ms: when the database was created (for people; the id is what is compared). */
    created_ms: z.number().int().nonnegative(),
    /** 0 with the genesis hash when the chain was still empty. */
    seq: z.number().int().nonnegative(),
    chain_hash: z.string().regex(HASH),
    /** time_ms of the row at seq (null for seq 0, or when a purge had deleted it already). */
    row_time_ms: z.number().int().nullable(),
    written_ms: z.number().int().nonnegative(),
  })
  .strict();

export type RecordedHead = z.infer<typeof RecordedHeadSchema>;

export type HeadFileRead =
  { kind: 'absent' } | { kind: 'ok'; head: RecordedHead } | { kind: 'unreadable'; reason: string };

export function readHeadFile(file: string): HeadFileRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'unreadable', reason: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'unreadable', reason: 'not JSON' };
  }
  const parsed = RecordedHeadSchema.safeParse(json);
  if (!parsed.success) return { kind: 'unreadable', reason: parsed.error.issues[0]?.message ?? 'invalid' };
  return { kind: 'ok', head: parsed.data };
}

/** Replaces the head file atomically and durably. Throws on I/O errors (the caller logs them). */
export function writeHeadFile(file: string, head: RecordedHead): void {
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', 0o600); // owner-only, like the database it describes
    try {
      writeSync(fd, `${JSON.stringify(head)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
  syncFolder(path.dirname(file));
}

/** fsync a folder so a rename or new name in it survives power loss. */
export function syncFolder(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
