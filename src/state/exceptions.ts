/**
 * The `exceptions` table: a site allowed or blocked for a user, a profile or everyone, with who added it,
 * why, when, and until when. Rows are never deleted: removing one stamps removed_at/removed_by, so the
 * record of what was allowed survives the exception. Every add and remove goes with its admin-changes row
 * in one transaction (addException / removeException below).
 */
import { SchoolgateError } from '../errors.js';
import { parseEntry } from '../policy/entries.js';
import type { ExceptionAction, ExceptionScope, PolicyException } from '../policy/exceptions.js';
import { describeScope } from '../policy/exceptions.js';
import { osUser } from './changes.js';
import type { StateDatabase } from './database.js';
import type { StateStore } from './store.js';

/** Where an exception came from: the CLI, an approved unblock request, or a migrated per-profile file. */
export type ExceptionOrigin = 'cli' | `request:${number}` | 'migrated';

export interface StoredException {
  id: number;
  site: string;
  action: ExceptionAction;
  scope: ExceptionScope;
  reason: string;
  createdBy: string;
  createdOsUser: string;
  createdAt: string;
  /** ISO time it stops applying; null: until removed. */
  expiresAt: string | null;
  removedAt: string | null;
  removedBy: string | null;
  origin: string;
}

export interface NewException {
  site: string;
  action: ExceptionAction;
  scope: ExceptionScope;
  reason: string;
  by: string;
  expiresAt: Date | null;
  origin?: ExceptionOrigin;
}

interface Row {
  id: number;
  site: string;
  action: string;
  scope: string;
  subject: string;
  reason: string;
  created_by: string;
  created_os_user: string;
  created_at: number;
  expires_at: number | null;
  removed_at: number | null;
  removed_by: string | null;
  origin: string;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export class ExceptionStore {
  constructor(private readonly db: StateDatabase) {}

  insert(e: NewException, at: number): StoredException {
    const id = Number(
      this.db
        .prepare(
          `INSERT INTO exceptions (site, action, scope, subject, reason, created_by, created_os_user, created_at,
             expires_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          e.site,
          e.action,
          e.scope.kind,
          e.scope.kind === 'everyone' ? '' : e.scope.name,
          e.reason,
          e.by,
          osUser(),
          at,
          e.expiresAt?.getTime() ?? null,
          e.origin ?? 'cli',
        ).lastInsertRowid,
    );
    return this.get(id)!;
  }

  get(id: number): StoredException | undefined {
    const row = this.db.prepare<[number], Row>('SELECT * FROM exceptions WHERE id = ?').get(id);
    return row && toStored(row);
  }

  /** Marks it removed; false when there is no such exception in force. */
  markRemoved(id: number, by: string, at: number): boolean {
    return (
      this.db
        .prepare('UPDATE exceptions SET removed_at = ?, removed_by = ? WHERE id = ? AND removed_at IS NULL')
        .run(at, by, id).changes === 1
    );
  }

  /** Exceptions not removed, oldest first; with `now`, only those still in force then. */
  list(opts: { now?: Date; all?: boolean } = {}): StoredException[] {
    const rows = opts.all
      ? this.db.prepare<[], Row>('SELECT * FROM exceptions ORDER BY id').all()
      : this.db
          .prepare<[number], Row>(
            `SELECT * FROM exceptions WHERE removed_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
             ORDER BY id`,
          )
          .all(opts.now?.getTime() ?? Number.MIN_SAFE_INTEGER);
    return rows.map(toStored);
  }

  /** The same live exception exists already (same site, action and scope, no end or a later one)? */
  findSame(e: Pick<NewException, 'site' | 'action' | 'scope'>, now: Date): StoredException | undefined {
    return this.list({ now }).find(
      (x) => x.site === e.site && x.action === e.action && describeScope(x.scope) === describeScope(e.scope),
    );
  }
}

/** The live exceptions, as the policy core compiles them; a row that cannot be read fails the load. */
export function policyExceptions(store: ExceptionStore): PolicyException[] {
  return store.list().map((e) => {
    const parsed = parseEntry(e.site);
    if (parsed.kind === 'skip' || parsed.kind === 'invalid')
      throw new SchoolgateError(
        'SG_EXCEPTION_INVALID',
        `Exception ${e.id} has a site that is not an entry: ${JSON.stringify(e.site)}.`,
        {
          context: { id: e.id },
          suggestion: `remove it with \`schoolgate exceptions remove ${e.id} --by NAME\` and add it again`,
        },
      );
    return {
      id: e.id,
      site: e.site,
      action: e.action,
      scope: e.scope,
      expiresAt: e.expiresAt === null ? null : Date.parse(e.expiresAt),
    };
  });
}

function toStored(r: Row): StoredException {
  if ((r.action !== 'allow' && r.action !== 'block') || !['user', 'profile', 'everyone'].includes(r.scope))
    throw new SchoolgateError('SG_EXCEPTION_INVALID', `Exception ${r.id} has an unknown action or scope.`, {
      context: { id: r.id, action: r.action, scope: r.scope },
      suggestion: `remove it with \`schoolgate exceptions remove ${r.id} --by NAME\``,
    });
  const scope: ExceptionScope =
    r.scope === 'everyone' ? { kind: 'everyone' } : { kind: r.scope as 'user' | 'profile', name: r.subject };
  return {
    id: r.id,
    site: r.site,
    action: r.action,
    scope,
    reason: r.reason,
    createdBy: r.created_by,
    createdOsUser: r.created_os_user,
    createdAt: new Date(r.created_at).toISOString(),
    expiresAt: iso(r.expires_at),
    removedAt: iso(r.removed_at),
    removedBy: r.removed_by,
    origin: r.origin,
  };
}

/** What the admin-changes record keeps of an exception. */
function changeView(e: StoredException): Record<string, unknown> {
  return {
    id: e.id,
    site: e.site,
    action: e.action,
    covers: describeScope(e.scope),
    expiresAt: e.expiresAt,
    origin: e.origin,
  };
}

/** Adds an exception and its admin-changes row together. */
export function addException(
  state: StateStore,
  e: NewException,
  at = Date.now(),
  changeAction = 'exceptions.add',
): StoredException {
  return state.transaction(() => {
    const stored = state.exceptions.insert(e, at);
    state.changes.record(
      {
        action: changeAction,
        target: `exception ${stored.id}: ${e.action} ${e.site} for ${describeScope(e.scope)}`,
        before: null,
        after: changeView(stored),
        reason: e.reason,
        by: e.by,
      },
      at,
    );
    return stored;
  });
}

/** Removes an exception in force, with its admin-changes row; SG_EXCEPTION_UNKNOWN when there is none. */
export function removeException(
  state: StateStore,
  id: number,
  by: string,
  reason: string | undefined,
  at = Date.now(),
): StoredException {
  return state.transaction(() => {
    const before = state.exceptions.get(id);
    if (!before || !state.exceptions.markRemoved(id, by, at))
      throw new SchoolgateError('SG_EXCEPTION_UNKNOWN', `no exception ${id} in force`, {
        context: { id },
        suggestion: 'see `schoolgate exceptions list --all` for every exception and whether it was removed',
      });
    state.changes.record(
      {
        action: 'exceptions.remove',
        target: `exception ${id}: ${before.action} ${before.site} for ${describeScope(before.scope)}`,
        before: changeView(before),
        after: null,
        reason,
        by,
      },
      at,
    );
    return state.exceptions.get(id)!;
  });
}
