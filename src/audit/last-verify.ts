/**
 * The result of the last full `audit verify`, kept in a file beside the database (`audit.last-verify.json`)
 * rather than in it: a check must leave the bytes it checked unchanged, and reports quote it. With it, the
 * signed position the walks have reached (verified-position.ts), where `--since-verified` starts.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PRIVATE_FILE_MODE } from '../app/file-modes.js';
import type { VerifiedPosition } from './verified-position.js';

export interface LastVerify {
  /** The last full check, or a later `--since-verified` check that found a break. */
  atMs: number;
  ok: boolean;
  rows: number;
  firstBreak: string | null;
  /** Where the next `--since-verified` walk may start; absent after a break. */
  verified?: VerifiedPosition;
  /** The last `--since-verified` check that passed: when, and the rows it walked. */
  sinceVerified?: { atMs: number; rows: number; fromSeq: number };
}

export function lastVerifyPath(dbPath: string): string {
  const resolved = path.resolve(dbPath);
  return `${resolved.endsWith('.sqlite') ? resolved.slice(0, -'.sqlite'.length) : resolved}.last-verify.json`;
}

export function readLastVerify(dbPath: string): LastVerify | null {
  try {
    const v = JSON.parse(readFileSync(lastVerifyPath(dbPath), 'utf8')) as LastVerify;
    return typeof v.atMs === 'number' && typeof v.ok === 'boolean' ? v : null;
  } catch {
    return null;
  }
}

export function writeLastVerify(dbPath: string, v: LastVerify): void {
  const file = lastVerifyPath(dbPath);
  writeFileSync(`${file}.tmp`, JSON.stringify(v), { mode: PRIVATE_FILE_MODE });
  renameSync(`${file}.tmp`, file);
}
