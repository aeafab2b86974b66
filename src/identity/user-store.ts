/**
 * The users table in the state database (data/state.sqlite, see src/state/database.ts) — separate from
 * the audit database so the audit store can move to a shared engine.
 */
import type Database from 'better-sqlite3';
import { SchoolgateError } from '../errors.js';
import { openStateDatabase, type StateDatabase } from '../state/database.js';
import { hashPassword } from './password.js';

export { stateDbPath } from '../state/database.js';

export interface User {
  name: string;
  displayName: string;
  profile: string;
  passwordHash: string | null;
  disabled: boolean;
  createdAt: number;
  /** The school of a trust the user belongs to (site.ts); null in a single school. */
  site: string | null;
}

interface UserRow {
  name: string;
  display_name: string;
  profile: string;
  password_hash: string | null;
  disabled: number;
  created_at: number;
  site?: string | null;
}

export const USER_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

export function checkUserName(name: string): void {
  if (!USER_NAME.test(name))
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `user name "${name}" is not allowed`, {
      suggestion:
        'use 1–64 letters, digits, dot, underscore, @ or hyphen (no colon: Basic auth splits on it)',
    });
}

export class UserStore {
  private readonly db: StateDatabase;
  private readonly ownsDb: boolean;
  private readonly byName: Database.Statement<[string], UserRow>;
  private readonly dataVersion: Database.Statement<[], number>;
  /** Writes through this connection (SQLite's data_version counts only the other connections' commits). */
  private writes = 0;

  /** Opens the state database of `dataDir`, or shares an already open one (the CLI's StateStore). */
  constructor(dataDirOrDb: string | StateDatabase, opts: { readonly?: boolean } = {}) {
    this.ownsDb = typeof dataDirOrDb === 'string';
    this.db = typeof dataDirOrDb === 'string' ? openStateDatabase(dataDirOrDb, opts) : dataDirOrDb;
    // Prepared once: get() runs on every authenticated request.
    this.byName = this.db.prepare<[string], UserRow>('SELECT * FROM users WHERE name = ?');
    this.dataVersion = this.db.prepare<[], number>('PRAGMA data_version').pluck();
  }

  /**
   * A number that changes whenever the state database may have changed: a commit by any other connection
   * (another process: the CLI) moves SQLite's `PRAGMA data_version`, a write through this store moves
   * `writes`; both only grow, so their sum does too. Read on every authenticated request: the pragma
   * costs ~4.5 µs (a primary-key SELECT of the user ~5.7 µs, same machine), no I/O beyond the WAL index.
   */
  version(): number {
    return this.dataVersion.get()! + this.writes;
  }

  get(name: string): User | undefined {
    const row = this.byName.get(name);
    return row && toUser(row);
  }

  list(): User[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY name').all() as UserRow[]).map(toUser);
  }

  async add(user: { name: string; profile: string; displayName?: string; password?: string }): Promise<User> {
    checkUserName(user.name);
    if (this.get(user.name))
      throw new SchoolgateError('SG_USER_EXISTS', `user "${user.name}" already exists`, {
        suggestion: 'choose another name, or change this user with `schoolgate users passwd`',
      });
    const hash = user.password === undefined ? null : await hashPassword(user.password);
    this.insert({ ...user, passwordHash: hash });
    return this.get(user.name)!;
  }

  /** Synchronous insert with a hash made beforehand (imports hash first, then write in one transaction). */
  insert(user: {
    name: string;
    profile: string;
    displayName?: string;
    passwordHash: string | null;
    site?: string | null | undefined;
  }): void {
    this.db
      .prepare(
        'INSERT INTO users (name, display_name, profile, password_hash, disabled, created_at, site) VALUES (?, ?, ?, ?, 0, ?, ?)',
      )
      .run(user.name, user.displayName ?? '', user.profile, user.passwordHash, Date.now(), user.site ?? null);
    this.writes++;
  }

  /** Changes the given fields; returns the user before and after. */
  update(
    name: string,
    fields: {
      profile?: string;
      displayName?: string;
      passwordHash?: string | null;
      disabled?: boolean;
      site?: string | null;
    },
  ): { before: User; after: User } {
    const before = this.require(name);
    this.db
      .prepare(
        'UPDATE users SET profile = ?, display_name = ?, password_hash = ?, disabled = ?, site = ? WHERE name = ?',
      )
      .run(
        fields.profile ?? before.profile,
        fields.displayName ?? before.displayName,
        fields.passwordHash === undefined ? before.passwordHash : fields.passwordHash,
        (fields.disabled ?? before.disabled) ? 1 : 0,
        fields.site === undefined ? before.site : fields.site,
        name,
      );
    this.writes++;
    return { before, after: this.get(name)! };
  }

  remove(name: string): User {
    const before = this.require(name);
    this.db.prepare('DELETE FROM users WHERE name = ?').run(name);
    this.writes++;
    return before;
  }

  require(name: string): User {
    const user = this.get(name);
    if (!user)
      throw new SchoolgateError('SG_USER_UNKNOWN', `no user named "${name}"`, {
        suggestion: 'list users with `schoolgate users list`',
      });
    return user;
  }

  close(): void {
    if (this.ownsDb) this.db.close();
  }
}

/** A user as shown in lists and the admin-changes record: never the password hash. */
export function publicUser(u: User) {
  return {
    name: u.name,
    displayName: u.displayName,
    profile: u.profile,
    disabled: u.disabled,
    hasPassword: u.passwordHash !== null,
    ...(u.site ? { site: u.site } : {}),
  };
}

function toUser(row: UserRow): User {
  return {
    name: row.name,
    displayName: row.display_name,
    profile: row.profile,
    passwordHash: row.password_hash,
    disabled: row.disabled !== 0,
    createdAt: row.created_at,
    site: row.site ?? null,
  };
}
