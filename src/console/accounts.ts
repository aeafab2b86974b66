/**
 * Console accounts in the state database: people with a role. Passwords are scrypt hashes
 * (identity/password.ts); the roles that see personal data (headteacher, DSL, auditor) must give a TOTP
 * code too. Failed sign-ins in a row lock the account for a while; every sign-in, failure and lock is a
 * row of console_signins (who, when, from where, why).
 */
import { SchoolgateError } from '../errors.js';
import { hashPassword, verifyPassword } from '../identity/password.js';
import { checkSiteName } from '../identity/site.js';
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
  /** A directory person (console.directory): the directory checks the password and sets the role. */
  directory: boolean;
  /** The school of the trust this account is limited to (its alerts, reviews, people); absent: all. */
  site?: string;
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
  directory: number;
  site?: string | null;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export type SignInResult = { ok: true; account: ConsoleAccount } | { ok: false; reason: SignInRefusal };

export type SignInRefusal =
  | 'bad-credentials'
  | 'bad-code'
  | 'locked'
  | 'no-account'
  // Directory sign-ins (directory-sign-in.ts):
  | 'directory-unavailable'
  | 'no-role'
  | 'several-roles'
  | 'not-enrolled';

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
  directory: r.directory === 1,
  ...(r.site ? { site: r.site } : {}),
});

export class ConsoleAccounts {
  constructor(private readonly db: StateDatabase) {}

  /** Adds an account; returns the TOTP secret for the roles that need one (shown once, never again). */
  async add(
    name: string,
    role: string,
    password: string,
    now = Date.now(),
    site: string | null = null,
  ): Promise<string | null> {
    this.checkNew(name);
    if (site !== null) checkSiteName(site);
    if (!(ROLES as readonly string[]).includes(role))
      throw new SchoolgateError('SG_CONSOLE_USER_INVALID', `"${role}" is not a console role`, {
        suggestion: `one of ${ROLES.join(', ')}`,
      });
    if (password.length < 12)
      throw new SchoolgateError('SG_ARGUMENT_INVALID', 'the password is shorter than 12 characters', {
        suggestion: 'use a passphrase of three or four words',
      });
    const secret = needsTotp(role as Role) ? newTotpSecret() : null;
    const hash = await hashPassword(password);
    this.db
      .prepare(
        'INSERT INTO console_users (name, role, password_hash, totp_secret, created_at, site) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(name, role, hash, secret, now, site);
    return secret;
  }

  /** Limits an account to one school of the trust, or with null lets it see all; false: no such account. */
  setSite(name: string, site: string | null): boolean {
    if (site !== null) checkSiteName(site);
    return this.db.prepare('UPDATE console_users SET site = ? WHERE name = ?').run(site, name).changes > 0;
  }

  /**
   * Enrols a directory person: their TOTP secret (returned, shown once), no password. The role stored here
   * is a placeholder until their first sign-in sets it from their groups.
   */
  enrolDirectory(name: string, now = Date.now()): string {
    this.checkNew(name);
    const secret = newTotpSecret();
    this.insertDirectory(name, 'technician', secret, now);
    return secret;
  }

  private insertDirectory(name: string, role: Role, secret: string | null, now: number): void {
    this.db
      .prepare(
        "INSERT INTO console_users (name, role, password_hash, totp_secret, created_at, directory) VALUES (?, ?, '', ?, ?, 1)",
      )
      .run(name, role, secret, now);
  }

  private checkNew(name: string): void {
    if (!NAME.test(name))
      throw new SchoolgateError('SG_CONSOLE_USER_INVALID', `"${name}" is not an account name`, {
        suggestion: 'use 1–64 letters, digits, ".", "_", "-" or "@", e.g. j.smith',
      });
    if (this.get(name))
      throw new SchoolgateError('SG_CONSOLE_USER_INVALID', `console account ${name} already exists`, {
        suggestion: `remove it first: schoolgate console users remove ${name}`,
      });
  }

  remove(name: string): void {
    const info = this.db.prepare('DELETE FROM console_users WHERE name = ?').run(name);
    if (info.changes === 0)
      throw new SchoolgateError('SG_CONSOLE_USER_INVALID', `there is no console account ${name}`, {
        suggestion: 'list them with: schoolgate console users list',
      });
  }

  get(name: string): ConsoleAccount | null {
    const r = this.row(name);
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
    const row = this.row(name);
    if (!row || row.directory === 1) {
      await verifyPassword(password, DUMMY_HASH);
      return { ok: false, reason: 'no-account' };
    }
    if (isLocked(row, now)) return { ok: false, reason: 'locked' };
    const passwordOk = await verifyPassword(password, row.password_hash);
    const step = codeStep(row, code, now);
    if (!passwordOk || step === null)
      return this.failed(row, policy, now, passwordOk ? 'bad-code' : 'bad-credentials');
    return this.succeeded(row, row.role, step);
  }

  /**
   * A directory person's sign-in once the directory has answered: `checked` is its verdict on the password
   * and the role from their groups. The code is checked against the enrolled secret; a wrong password or
   * code counts toward the lock like a local account's; the role is stored for the session checks.
   */
  directorySignIn(
    name: string,
    checked: { ok: true; role: Role } | { ok: false; reason: SignInRefusal },
    code: string,
    policy: LockPolicy,
    now: number,
  ): SignInResult {
    let row = this.row(name);
    if (row && row.directory !== 1) return { ok: false, reason: 'no-account' };
    if (row && isLocked(row, now)) return { ok: false, reason: 'locked' };
    if (!checked.ok)
      return row && checked.reason === 'bad-credentials'
        ? this.failed(row, policy, now, 'bad-credentials')
        : { ok: false, reason: checked.reason };
    if (!row) {
      // A technician sees no personal data: no enrolment needed, the row is made at first sign-in.
      if (needsTotp(checked.role)) return { ok: false, reason: 'not-enrolled' };
      this.insertDirectory(name, checked.role, null, now);
      row = this.row(name)!;
    }
    if (needsTotp(checked.role) && row.totp_secret === null) return { ok: false, reason: 'not-enrolled' };
    const step = codeStep(row, code, now);
    if (step === null) return this.failed(row, policy, now, 'bad-code');
    return this.succeeded(row, checked.role, step);
  }

  private row(name: string): Row | undefined {
    return this.db.prepare<[string], Row>('SELECT * FROM console_users WHERE name = ?').get(name);
  }

  /** One more failure in a row; the one that reaches the limit locks the account. */
  private failed(row: Row, policy: LockPolicy, now: number, reason: SignInRefusal): SignInResult {
    const failures = row.failures + 1;
    const lock = failures >= policy.lockAfterFailures ? now + policy.lockMinutes * 60_000 : null;
    this.db
      .prepare('UPDATE console_users SET failures = ?, locked_until = ? WHERE name = ?')
      .run(lock === null ? failures : 0, lock, row.name);
    return { ok: false, reason: lock !== null ? 'locked' : reason };
  }

  private succeeded(row: Row, role: Role, step: number): SignInResult {
    const lastStep = row.totp_secret === null ? null : step;
    this.db
      .prepare(
        'UPDATE console_users SET failures = 0, locked_until = NULL, last_totp_step = ?, role = ? WHERE name = ?',
      )
      .run(lastStep, role, row.name);
    return { ok: true, account: toAccount({ ...row, role, failures: 0, locked_until: null }) };
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

function isLocked(row: Row, now: number): boolean {
  return row.locked_until !== null && row.locked_until > now;
}

/** The code's TOTP step (0 with no secret), or null: wrong, or a step already used (seen over a shoulder). */
function codeStep(row: Row, code: string, now: number): number | null {
  if (row.totp_secret === null) return 0;
  const step = totpStep(row.totp_secret, code, now);
  return step !== null && (row.last_totp_step === null || step > row.last_totp_step) ? step : null;
}

/** A valid hash of a random password: an unknown name costs the same scrypt work as a known one. */
const DUMMY_HASH = 'scrypt$16384$8$1$c2Nob29sZ2F0ZS1kdW1teQ==$3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
