/**
 * The users table (and later networks/devices managed from the CLI) in the state database,
 * data/state.sqlite — separate from the audit database so the audit store can move to a shared engine.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SchoolgateError } from '../errors.js';
import { hashPassword } from './password.js';

export interface User {
  name: string;
  displayName: string;
  profile: string;
  passwordHash: string | null;
  disabled: boolean;
  createdAt: number;
}

interface UserRow {
  name: string;
  display_name: string;
  profile: string;
  password_hash: string | null;
  disabled: number;
  created_at: number;
}

const MIGRATIONS: string[] = [
  `CREATE TABLE users (
     name TEXT PRIMARY KEY,
     display_name TEXT NOT NULL DEFAULT '',
     profile TEXT NOT NULL,
     password_hash TEXT,
     disabled INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   )`,
];

export function stateDbPath(dataDir: string): string {
  return path.join(dataDir, 'state.sqlite');
}

export class UserStore {
  private readonly db: Database.Database;
  private readonly byName: Database.Statement<[string], UserRow>;

  constructor(dataDir: string, opts: { readonly?: boolean } = {}) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(stateDbPath(dataDir), { readonly: opts.readonly ?? false });
    if (!opts.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.migrate();
    }
    this.db.pragma('busy_timeout = 5000');
    // Prepared once: get() runs on every authenticated request.
    this.byName = this.db.prepare<[string], UserRow>('SELECT * FROM users WHERE name = ?');
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  get(name: string): User | undefined {
    const row = this.byName.get(name);
    return row && toUser(row);
  }

  list(): User[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY name').all() as UserRow[]).map(toUser);
  }

  async add(user: { name: string; profile: string; displayName?: string; password?: string }): Promise<User> {
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(user.name))
      throw new SchoolgateError('SG_ARGUMENT_INVALID', `user name "${user.name}" is not allowed`, {
        suggestion:
          'use 1–64 letters, digits, dot, underscore, @ or hyphen (no colon: Basic auth splits on it)',
      });
    if (this.get(user.name))
      throw new SchoolgateError('SG_USER_EXISTS', `user "${user.name}" already exists`, {
        suggestion: 'choose another name, or change this user with `schoolgate users passwd`',
      });
    const hash = user.password === undefined ? null : await hashPassword(user.password);
    this.db
      .prepare(
        'INSERT INTO users (name, display_name, profile, password_hash, disabled, created_at) VALUES (?, ?, ?, ?, 0, ?)',
      )
      .run(user.name, user.displayName ?? '', user.profile, hash, Date.now());
    return this.get(user.name)!;
  }

  close(): void {
    this.db.close();
  }
}

function toUser(row: UserRow): User {
  return {
    name: row.name,
    displayName: row.display_name,
    profile: row.profile,
    passwordHash: row.password_hash,
    disabled: row.disabled !== 0,
    createdAt: row.created_at,
  };
}
