/**
 * Who may see monitoring information. Every report command, granted or refused, is recorded in
 * report_access before anything is read. Refused:
 * - an OS user not in config.reports.allowedOsUsers (default: only the owner of the data directory);
 * - a per-person, per-domain or context report without --case and --by; a review without --by;
 * - a read without a purpose (--reason) where the command asks for one;
 * - with reports.people set: a --by that names none of them, from another OS account than theirs, or
 *   without the role a review or the access log needs (people.ts);
 * - a report under a case that does not exist or is closed;
 * - a report under a case about someone else: a person report or a context report whose person is not one
 *   of the case's subjects (a domain report under a case shows only the subjects' rows);
 * - a person report for a name that is no user and has no rows ("no such user").
 */
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { rowCovered, subjectsLabel, type RowIdentity } from '../audit/case-subjects.js';
import { getCase, type CaseRecord } from '../audit/cases.js';
import { recordAccess, type AccessEntry } from '../audit/report-access.js';
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError, type ErrorCode } from '../errors.js';
import type { AccessRecorder } from './audit-reads.js';
import {
  checkPerson,
  invokingAccount,
  MIN_PURPOSE_LENGTH,
  purposeMissing,
  type PeoplePolicy,
  type RoleNeed,
} from './people.js';

export { currentOsUser } from './people.js';

/** Who may read, from the config: the OS users, the people and their roles. */
export interface AccessPolicy extends Partial<PeoplePolicy> {
  allowedOsUsers: readonly string[] | null;
  dataDir: string;
  now: number;
}

export function accessPolicy(config: ReadonlyConfig, now: number): AccessPolicy {
  const r = config.reports;
  return {
    allowedOsUsers: r.allowedOsUsers,
    dataDir: config.dataDir,
    now,
    people: r.people,
    reviewerRoles: r.reviewerRoles,
    accessLogRoles: r.accessLogRoles,
  };
}

/** null when allowed, else why not. */
export function osUserRefusal(
  allowed: readonly string[] | null,
  dataDir: string,
  osUser: string,
): string | null {
  if (allowed !== null) {
    return allowed.includes(osUser)
      ? null
      : `OS user ${osUser} is not in reports.allowedOsUsers (${allowed.join(', ') || 'empty'})`;
  }
  let owner: number;
  try {
    owner = statSync(dataDir).uid;
  } catch {
    return `the data directory ${dataDir} cannot be read`;
  }
  const me = process.getuid?.();
  return me === owner
    ? null
    : `OS user ${osUser} does not own the data directory ${dataDir}, and reports.allowedOsUsers is not set`;
}

/** Whose records a report under a case would show, checked against the case's subjects. */
export type CaseScope =
  /** report user: one person. */
  | { user: string }
  /** report around: the person of one audit row (null: there is no such row). */
  | { row: RowIdentity | null; ref: string }
  /** report domain: every row, filtered to the case's subjects by the builder. */
  | { subjectsOnly: true };

export interface AccessRequest extends Omit<AccessEntry, 'outcome' | 'reason' | 'timeMs' | 'sudoUser'> {
  needsCase: boolean;
  needsBy: boolean;
  /** A read of monitoring information: it says why (--reason, kept as the entry's purpose). */
  needsPurpose?: boolean;
  /** A review outside any case, or the access log: only for the roles the config names (people.ts). */
  roleNeed?: RoleNeed | null;
  /** Required with needsCase: a report under a case with no scope is refused. */
  scope?: CaseScope;
  /** A refusal the caller found (a subject that exists nowhere): recorded like any other. */
  refusal?: Refusal | null;
  /**
   * The person was signed in by the web console (password and TOTP), not named on a command line: with
   * reports.people set, `by` must still be one of them, but the OS account (the proxy's service account) is
   * not theirs to match.
   */
  signedIn?: boolean;
}

export interface Refusal {
  reason: string;
  suggestion: string;
  code?: ErrorCode;
}

/** null when the report stays within the case's subjects, else why not. */
function scopeRefusal(scope: CaseScope | undefined, c: CaseRecord): Refusal | null {
  const subjects = subjectsLabel(c.subjects);
  const outside = (whose: string): Refusal => ({
    reason: `${whose} is not a subject of case ${c.ref} (its subjects: ${subjects})`,
    suggestion:
      'a report under a case covers only the case’s subjects; pull it under a case about this person',
  });
  if (scope === undefined)
    return { reason: 'the report names no scope', suggestion: 'this is a defect: report it' };
  if ('subjectsOnly' in scope) return null;
  if ('user' in scope)
    return c.subjects.some((s) => s.kind === 'user' && s.value === scope.user)
      ? null
      : outside(`user ${scope.user}`);
  if (scope.row === null)
    return {
      reason: `there is no audit row ${scope.ref}`,
      suggestion: 'quote the reference exactly as the block page or a report shows it',
    };
  const r = scope.row;
  return rowCovered(c.subjects, r)
    ? null
    : outside(`audit row ${scope.ref} (${r.username ?? r.device ?? r.client_ip})`);
}

/** What `decide` found: the entry to record, and why it is refused (null: granted). */
export interface AccessDecision {
  entry: Omit<AccessEntry, 'outcome' | 'reason' | 'timeMs'>;
  refusal: Required<Refusal> | null;
}

/** Decides one report request (recording is the caller's): `caseOf` finds a case by its reference. */
export function decide(
  req: AccessRequest,
  opts: AccessPolicy,
  caseOf: (ref: string) => CaseRecord | null,
): AccessDecision {
  const { needsCase, needsBy, needsPurpose, roleNeed, scope, refusal: _found, signedIn, ...fields } = req;
  const { account, sudoUser } = invokingAccount(req.osUser);
  const entry = { ...fields, sudoUser };
  let reason: string | null = osUserRefusal(opts.allowedOsUsers, opts.dataDir, req.osUser);
  let suggestion =
    'ask the person responsible for the server to add your account to reports.allowedOsUsers in the config';
  let code: ErrorCode = 'SG_REPORT_REFUSED';
  if (reason === null && ((needsBy && !req.by) || (needsCase && !req.caseRef))) {
    const missing = [needsCase && !req.caseRef ? '--case REF' : '', needsBy && !req.by ? '--by NAME' : '']
      .filter(Boolean)
      .join(' and ');
    const why = needsCase
      ? 'per-person, per-domain and context reports are pulled under a case, by a named person'
      : 'reviews are pulled by a named person';
    reason = `no ${missing}: ${why}`;
    suggestion = needsCase
      ? 'open a case first (schoolgate case open REF --subject USER --by NAME), then give --case REF --by NAME'
      : 'give --by with your name, e.g. --by "J. Smith (DSL)"';
  }
  if (reason === null && needsPurpose && purposeMissing(req.purpose)) {
    reason = `no --reason: monitoring information is read for a purpose, and the access log keeps it (at least ${MIN_PURPOSE_LENGTH} characters)`;
    suggestion = 'say why, e.g. --reason "concern raised by form tutor 12 Nov"';
  }
  if (reason === null && req.by && opts.people !== undefined) {
    const policy: PeoplePolicy = {
      people: opts.people,
      reviewerRoles: opts.reviewerRoles ?? [],
      accessLogRoles: opts.accessLogRoles ?? [],
    };
    const checked = checkPerson(policy, req.by, signedIn ? null : account, roleNeed ?? null);
    if (checked && checked.person === null) {
      reason = checked.refusal;
      suggestion =
        'give --by as your name in reports.people, run it from your own account, or ask the headteacher to change reports.people';
    } else if (checked) entry.by = checked.person.name;
  }
  if (reason === null && req.refusal) {
    ({ reason, suggestion } = req.refusal);
    code = req.refusal.code ?? code;
  }
  if (reason === null && needsCase && req.caseRef) {
    const c = caseOf(req.caseRef);
    if (!c) {
      reason = `case ${req.caseRef} does not exist`;
      suggestion = `open it first: schoolgate case open ${req.caseRef} --subject USER --by NAME`;
    } else if (c.status !== 'open') {
      reason = `case ${req.caseRef} is closed`;
      suggestion = 'reports are pulled under an open case';
    } else {
      const refused = scopeRefusal(scope, c);
      if (refused) ({ reason, suggestion } = refused);
    }
  }
  return { entry, refusal: reason === null ? null : { reason, suggestion, code } };
}

function refusedError(req: AccessRequest, refusal: Required<Refusal>): SchoolgateError {
  return new SchoolgateError(
    refusal.code,
    `${req.command} refused: ${refusal.reason}. The refusal is recorded.`,
    {
      context: { command: req.command, osUser: req.osUser, by: req.by, caseRef: req.caseRef },
      suggestion: refusal.suggestion,
    },
  );
}

const outcomeOf = (d: AccessDecision, now: number): AccessEntry =>
  d.refusal
    ? { ...d.entry, timeMs: now, outcome: 'refused', reason: d.refusal.reason }
    : { ...d.entry, timeMs: now, outcome: 'granted' };

/**
 * Checks and records one report request. Throws SG_REPORT_REFUSED (after recording the refusal) or returns
 * the access-log id of the granted request.
 */
export function authorise(db: Database.Database, req: AccessRequest, opts: AccessPolicy): number {
  const d = decide(req, opts, (ref) => getCase(db, ref) ?? null);
  const id = recordAccess(db, outcomeOf(d, opts.now));
  if (d.refusal) throw refusedError(req, d.refusal);
  return id;
}

/** authorise, recorded by `recorder` (the store the report reads: PostgreSQL records it there). */
export async function authoriseWith(
  recorder: AccessRecorder,
  caseOf: (ref: string) => CaseRecord | null,
  req: AccessRequest,
  opts: AccessPolicy,
): Promise<number> {
  const d = decide(req, opts, caseOf);
  const id = await recorder.record(outcomeOf(d, opts.now));
  if (d.refusal) throw refusedError(req, d.refusal);
  return id;
}
