/**
 * A person, not a typed name (issue 10 item 2). With `reports.people` set, `--by` must name one of them, a
 * person with an `osUser` must be the account running the command (or the account that ran it through
 * sudo), and their roles decide which reviews and which access log they may read. Pure: the caller passes
 * the invoking account (invokingAccount reads it from the process).
 */
import os from 'node:os';

export interface ReportPerson {
  readonly name: string;
  readonly osUser?: string | undefined;
  readonly roles: readonly string[];
}

/** What a command reads beyond a case: a review of everyone (flagged, weekly, pilot) or the access log. */
export type RoleNeed = 'reviewer' | 'access-log';

export interface PeoplePolicy {
  /** null: `--by` is unchecked free text. */
  people: readonly ReportPerson[] | null;
  reviewerRoles: readonly string[];
  accessLogRoles: readonly string[];
}

/** The shortest purpose accepted: long enough to say something ("x", "n/a" and "test" are not purposes). */
export const MIN_PURPOSE_LENGTH = 5;

export function purposeMissing(purpose: string | null | undefined): boolean {
  return (purpose?.trim().length ?? 0) < MIN_PURPOSE_LENGTH;
}

/** The one line each command prints when reports.people is not set. */
export const UNCHECKED_BY_WARNING =
  'warning: --by is not checked against anyone (reports.people is not set in the config): the access log records the name as typed';

/**
 * The account behind the command: through sudo, the account that ran sudo (SUDO_USER, honoured only when
 * SUDO_UID differs from the account running now, i.e. sudo really switched), else the OS user itself.
 */
export function invokingAccount(
  osUser: string,
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
): { account: string; sudoUser: string | null } {
  const sudoUser = env['SUDO_USER'];
  const sudoUid = Number(env['SUDO_UID']);
  if (sudoUser && Number.isInteger(sudoUid) && sudoUid !== uid) return { account: sudoUser, sudoUser };
  return { account: osUser, sudoUser: null };
}

export type PersonCheck = { person: ReportPerson; refusal: null } | { person: null; refusal: string };

/**
 * Who `by` is, or why the command is refused. Names match ignoring case and surrounding spaces. account
 * null: the person signed in another way (the console), so no OS account is matched.
 */
export function checkPerson(
  policy: PeoplePolicy,
  by: string,
  account: string | null,
  need: RoleNeed | null,
): PersonCheck | null {
  if (policy.people === null) return null;
  const person = findPerson(policy.people, by);
  if (!person)
    return {
      person: null,
      refusal: `--by "${by}" is not one of the people in reports.people (${policy.people.map((p) => p.name).join(', ') || 'none'})`,
    };
  if (account !== null && person.osUser !== undefined && person.osUser !== account)
    return {
      person: null,
      refusal: `${person.name} works from the OS account ${person.osUser}, and this command was run by ${account}`,
    };
  const roles =
    need === 'reviewer' ? policy.reviewerRoles : need === 'access-log' ? policy.accessLogRoles : null;
  if (roles !== null && !person.roles.some((r) => roles.includes(r)))
    return {
      person: null,
      refusal:
        `${person.name} (${person.roles.join(', ')}) has none of the roles that may ` +
        `${need === 'reviewer' ? 'pull reviews outside a case' : 'read the access log'} (${roles.join(', ')})`,
    };
  return { person, refusal: null };
}

/** The current OS user's name (uid:N when the system has no name for it). */
export function currentOsUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid:${process.getuid?.() ?? '?'}`;
  }
}

/** The name the access log keeps for `by`: the person's own spelling in reports.people, else as typed. */
export function resolveBy(people: readonly ReportPerson[] | null, by: string): string {
  return (people && findPerson(people, by)?.name) ?? by;
}

function findPerson(people: readonly ReportPerson[], by: string): ReportPerson | undefined {
  const wanted = by.trim().toLowerCase();
  return people.find((p) => p.name.trim().toLowerCase() === wanted);
}
