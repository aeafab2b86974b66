/**
 * The admin-changes record: every change made through the CLI (lists, users, networks, devices), with
 * when, which OS user, `--by NAME`, what, before/after and `--reason`. The DfE filtering standards ask
 * schools to document why a site is blocked or allowed; this table is that document.
 */
import { userInfo } from 'node:os';
import type { StateDatabase } from './database.js';

export interface ChangeInput {
  /** e.g. 'lists.add', 'users.disable', 'networks.add' */
  action: string;
  /** What was changed, e.g. 'social: example.com' or 'user j.smith' */
  target: string;
  before?: unknown;
  after?: unknown;
  reason?: string | undefined;
  by?: string | undefined;
}

export interface AdminChange {
  id: number;
  at: string;
  osUser: string;
  by: string | null;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
  reason: string | null;
}

interface ChangeRow {
  id: number;
  at: number;
  os_user: string;
  by_name: string | null;
  action: string;
  target: string;
  before_json: string | null;
  after_json: string | null;
  reason: string | null;
}

export function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

export class ChangeLog {
  constructor(private readonly db: StateDatabase) {}

  record(change: ChangeInput, at = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO admin_changes (at, os_user, by_name, action, target, before_json, after_json, reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        at,
        osUser(),
        change.by ?? null,
        change.action,
        change.target,
        change.before === undefined ? null : JSON.stringify(change.before),
        change.after === undefined ? null : JSON.stringify(change.after),
        change.reason ?? null,
      );
  }

  list(opts: { since?: Date; action?: string; limit?: number } = {}): AdminChange[] {
    const rows = this.db
      .prepare<[number, string, string, number], ChangeRow>(
        `SELECT * FROM admin_changes WHERE at >= ? AND (? = '' OR action LIKE ? || '%')
         ORDER BY at, id LIMIT ?`,
      )
      .all(opts.since?.getTime() ?? 0, opts.action ?? '', opts.action ?? '', opts.limit ?? 1_000_000);
    return rows.map((r) => ({
      id: r.id,
      at: new Date(r.at).toISOString(),
      osUser: r.os_user,
      by: r.by_name,
      action: r.action,
      target: r.target,
      before: r.before_json === null ? null : (JSON.parse(r.before_json) as unknown),
      after: r.after_json === null ? null : (JSON.parse(r.after_json) as unknown),
      reason: r.reason,
    }));
  }
}
