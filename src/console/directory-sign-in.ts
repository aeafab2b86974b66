/**
 * Console sign-in with directory credentials (console.directory over identity.ldap): the directory checks
 * the password and says, now, which of the configured groups the person is in; that decides the role
 * (nothing cached, so a person taken out of the DSL group loses the role at their next sign-in). Groups of
 * two roles: refused (least privilege, no precedence to get wrong). A directory that cannot be reached
 * refuses the sign-in (SG_CONSOLE_DIRECTORY_UNAVAILABLE); local accounts never depend on it. `status`
 * says so from the first refused sign-in until the directory answers one again (status()).
 */
import type { Logger } from 'pino';
import type { ReadonlyConfig } from '../config/load.js';
import { Directory } from '../identity/ldap/directory.js';
import { ROLES, type ConsoleAccounts, type LockPolicy, type Role, type SignInResult } from './accounts.js';

type RoleGroups = Readonly<Record<Role, readonly string[]>>;

/** The console's directory as `status` shows it (consoleDirectory; null when console.directory is not set). */
export type ConsoleDirectoryStatus =
  | { state: 'ok'; since: null; code: null; cause: null }
  | { state: 'unavailable'; since: string; code: 'SG_CONSOLE_DIRECTORY_UNAVAILABLE'; cause: string };

export class DirectorySignIn {
  /** Since when sign-ins find the directory unreachable (null: the last one reached it, or none tried). */
  private outage: { since: number; cause: string } | null = null;

  private constructor(
    private readonly directory: Directory | null,
    private readonly groups: RoleGroups,
    private readonly logger: Logger,
  ) {}

  status(): ConsoleDirectoryStatus {
    return this.outage
      ? {
          state: 'unavailable',
          since: new Date(this.outage.since).toISOString(),
          code: 'SG_CONSOLE_DIRECTORY_UNAVAILABLE',
          cause: this.outage.cause,
        }
      : { state: 'ok', since: null, code: null, cause: null };
  }

  /** null: console.directory not set. Without identity.ldap every directory sign-in is refused (logged). */
  static from(config: ReadonlyConfig, logger: Logger): DirectorySignIn | null {
    const wanted = config.console.directory;
    if (!wanted) return null;
    const ldap = config.identity.ldap;
    if (!ldap)
      logger.error(
        { code: 'SG_CONSOLE_DIRECTORY_UNAVAILABLE' },
        'console.directory is set but identity.ldap is not: directory sign-ins are refused',
      );
    const directory = ldap ? new Directory(ldap, config.identity.guestProfile) : null;
    return new DirectorySignIn(directory, wanted.groups, logger);
  }

  async signIn(
    accounts: ConsoleAccounts,
    { name, password, code }: { name: string; password: string; code: string },
    policy: LockPolicy,
    now: number,
  ): Promise<SignInResult> {
    if ((accounts.get(name)?.lockedUntil ?? 0) > now) return { ok: false, reason: 'locked' };
    const all = [...new Set(ROLES.flatMap((r) => this.groups[r]))];
    const answer = this.directory
      ? await this.directory.memberships(name, password, all)
      : { kind: 'outage' as const, cause: 'identity.ldap is not configured' };
    if (answer.kind === 'outage') {
      this.outage ??= { since: now, cause: answer.cause };
      this.logger.error(
        { code: 'SG_CONSOLE_DIRECTORY_UNAVAILABLE', cause: answer.cause },
        'console sign-in refused: the directory did not answer',
      );
      return { ok: false, reason: 'directory-unavailable' };
    }
    if (this.outage) {
      this.logger.info(
        { since: new Date(this.outage.since).toISOString() },
        'console sign-in: the directory answers again',
      );
      this.outage = null;
    }
    if (answer.kind === 'rejected')
      return accounts.directorySignIn(name, { ok: false, reason: 'bad-credentials' }, code, policy, now);
    const roles = ROLES.filter((r) => this.groups[r].some((g) => answer.groups.includes(g)));
    const checked =
      roles.length === 1
        ? { ok: true as const, role: roles[0]! }
        : {
            ok: false as const,
            reason: roles.length === 0 ? ('no-role' as const) : ('several-roles' as const),
          };
    return accounts.directorySignIn(name, checked, code, policy, now);
  }
}
