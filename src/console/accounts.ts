/**
 * Console accounts in the state database: people with a role. Passwords are scrypt hashes
 * (identity/password.ts); the roles that see personal data (headteacher, DSL, auditor) must give a TOTP
 * code too. Failed sign-ins in a row lock the account for a while; every sign-in, failure and lock is a
 * row of console_signins (who, when, from where, why).
 */
import { SchoolgateError } from '../errors.js';
import { hashPassword, verifyPassword } from '../identity/password.js';
import type { StateDatabase } from '../state/database.js';
import { newTotpSecret, totpStep } from './totp.js';

export const ROLES = ['headteacher', 'dsl', 'technician', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/** Roles that see personal data or its record: a second factor is required. */
export function needsTotp(role: Role): boolean {
  return role !== 'technician';
}

export interface ConsoleAccount {
  name: string;
  role: Role;
  hasTotp: boolean;
  failures: number;
  lockedUntil: number | null;
  createdAt: number;
}

interface Row {
  name: string;
  role: Role;
  password_hash: string;
  totp_secret: string | null;
  last_totp_step: number | null;
  failures: number;
  locked_until: number | null;
  created_at: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export type SignInResult =
  | { ok: true; account: ConsoleAccount }
  | { ok: false; reason: 'bad-credentials' | 'bad-code' | 'locked' | 'no-account' };

export interface LockPolicy {
  lockAfterFailures: number;
  lockMinutes: number;
}

const toAccount = (r: Row): ConsoleAccount => ({
  name: r.name,
  role: r.role,
  hasTotp: r.totp_secret !== null,
  failures: r.failures,
  lockedUntil: r.locked_until,
  createdAt: r.created_at,
});

export class ConsoleAccounts {
  constructor(private readonly db: StateDatabase) {}

  /** Adds an account; returns the TOTP secret for the roles that need one (shown once, never again). */
  async add(name: string, role: string, password: string, now = Date.now()): Promise<string | null> {
    if (!NAME.test(name))
      throw new SchoolgateError('SG_CONSOLE_USER_INVALID', `"${name}" is not an account name`, {
        suggestion: 'use 1–64 letters, digits, ".", "_", "-" or "@", e.g. j.smith',
      });
    if (!(ROLES as readonly string[]).includes(role))
      throw new SchoolgateError('SG_CONSOLE_USER_INVALID', `"${role}" is not a console role`, {
        suggestion: `one of ${ROLES.join(', ')}`,
      });
    if (password.length < 12)
      throw new SchoolgateError('SG_ARGUMENT_INVALID', 'the password is shorter than 12 characters', {
        suggestion: 'use a passphrase of three or four words',
      });
    if (this.get(name))
      throw new SchoolgateError('SG_CONSOLE_USER_INVALID', `console account ${name} already exists`, {
        suggestion: `remove it first: schoolgate console users remove ${name}`,
      });
    const secret = needsTotp(role as Role) ? newTotpSecret() : null;
    const hash = await hashPassword(password);
    this.db
      .prepare(
        'INSERT INTO console_users (name, role, password_hash, totp_secret, created_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(name, role, hash, secret, now);
    return secret;
  }

  remove(name: string): void {
    const info = this.db.prepare('DELETE FROM console_users WHERE name = ?').run(name);
    if (info.changes === 0)
      throw new SchoolgateError('SG_CONSOLE_USER_INVALID', `there is no console account ${name}`, {
        suggestion: 'list them with: schoolgate console users list',
      });
  }

  get(name: string): ConsoleAccount | null {
    const r = this.db.prepare<[string], Row>('SELECT * FROM console_users WHERE name = ?').get(name);
    return r ? toAccount(r) : null;
  }

  list(): ConsoleAccount[] {
    return this.db.prepare<[], Row>('SELECT * FROM console_users ORDER BY name').all().map(toAccount);
  }

  /**
   * Checks password and code. A locked account is refused before its password is checked (a guess while
   * locked teaches nothing); each failure counts toward the lock; a success clears the count. The same
   * answer for an unknown name and a wrong password, after the same scrypt work.
   */
  async signIn(
    name: string,
    password: string,
    code: string,
    policy: LockPolicy,
    now: number,
  ): Promise<SignInResult> {
    const row = this.db.prepare<[string], Row>('SELECT * FROM console_users WHERE name = ?').get(name);
    if (!row) {
      await verifyPassword(password, DUMMY_HASH);
      return { ok: false, reason: 'no-account' };
    }
    if (row.locked_until !== null && row.locked_until > now) return { ok: false, reason: 'locked' };
    const passwordOk = await verifyPassword(password, row.password_hash);
    const step = row.totp_secret === null ? 0 : totpStep(row.totp_secret, code, now);
    const codeOk = step !== null && (row.last_totp_step === null || step > row.last_totp_step);
    if (!passwordOk || !codeOk) {
      const failures = row.failures + 1;
      const lock = failures >= policy.lockAfterFailures ? now + policy.lockMinutes * 60_000 : null;
      this.db
        .prepare('UPDATE console_users SET failures = ?, locked_until = ? WHERE name = ?')
        .run(lock === null ? failures : 0, lock, name);
      if (lock !== null) return { ok: false, reason: 'locked' };
      return { ok: false, reason: passwordOk ? 'bad-code' : 'bad-credentials' };
    }
    this.db
      .prepare(
        'UPDATE console_users SET failures = 0, locked_until = NULL, last_totp_step = ? WHERE name = ?',
      )
      .run(row.totp_secret === null ? null : step, name);
    return { ok: true, account: toAccount({ ...row, failures: 0, locked_until: null }) };
  }

  recordSignIn(e: {
    at: number;
    name: string;
    clientIp: string;
    outcome: 'signed-in' | 'failed' | 'locked' | 'signed-out';
    reason?: string | null;
  }): void {
    this.db
      .prepare('INSERT INTO console_signins (at, name, client_ip, outcome, reason) VALUES (?, ?, ?, ?, ?)')
      .run(e.at, e.name, e.clientIp, e.outcome, e.reason ?? null);
  }

  signIns(
    limit = 200,
  ): { at: number; name: string; clientIp: string; outcome: string; reason: string | null }[] {
    return this.db
      .prepare<
        [number],
        { at: number; name: string; client_ip: string; outcome: string; reason: string | null }
      >('SELECT at, name, client_ip, outcome, reason FROM console_signins ORDER BY id DESC LIMIT ?')
      .all(limit)
      .map((r) => ({ at: r.at, name: r.name, clientIp: r.client_ip, outcome: r.outcome, reason: r.reason }));
  }
}

/** A valid hash of a random password: an unknown name costs the same scrypt work as a known one. */
const DUMMY_HASH = 'scrypt$16384$8$1$c2Nob29sZ2F0ZS1kdW1teQ==$3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
