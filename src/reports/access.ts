/**
 * Who may see monitoring information. Every report command, granted or refused, is recorded in
 * report_access before anything is read. Refused:
 * - an OS user not in config.reports.allowedOsUsers (default: only the owner of the data directory);
 * - a per-person, per-domain or context report without --case and --by; a review without --by;
 * - a report under a case that does not exist or is closed.
 */
import { statSync } from 'node:fs';
import os from 'node:os';
import type Database from 'better-sqlite3';
import { getCase } from '../audit/cases.js';
import { recordAccess, type AccessEntry } from '../audit/report-access.js';
import { SchoolgateError } from '../errors.js';

export function currentOsUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid:${process.getuid?.() ?? '?'}`;
  }
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

export interface AccessRequest extends Omit<AccessEntry, 'outcome' | 'reason' | 'timeMs'> {
  needsCase: boolean;
  needsBy: boolean;
}

/**
 * Checks and records one report request. Throws SG_REPORT_REFUSED (after recording the refusal) or returns
 * the access-log id of the granted request.
 */
export function authorise(
  db: Database.Database,
  req: AccessRequest,
  opts: { allowedOsUsers: readonly string[] | null; dataDir: string; now: number },
): number {
  const { needsCase, needsBy, ...entry } = req;
  let reason: string | null = osUserRefusal(opts.allowedOsUsers, opts.dataDir, req.osUser);
  let suggestion =
    'ask the person responsible for the server to add your account to reports.allowedOsUsers in the config';
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
  if (reason === null && needsCase && req.caseRef) {
    const c = getCase(db, req.caseRef);
    if (!c) {
      reason = `case ${req.caseRef} does not exist`;
      suggestion = `open it first: schoolgate case open ${req.caseRef} --subject USER --by NAME`;
    } else if (c.status !== 'open') {
      reason = `case ${req.caseRef} is closed`;
      suggestion = 'reports are pulled under an open case';
    }
  }
  if (reason !== null) {
    recordAccess(db, { ...entry, timeMs: opts.now, outcome: 'refused', reason });
    throw new SchoolgateError(
      'SG_REPORT_REFUSED',
      `${req.command} refused: ${reason}. The refusal is recorded.`,
      {
        context: { command: req.command, osUser: req.osUser, by: req.by, caseRef: req.caseRef },
        suggestion,
      },
    );
  }
  return recordAccess(db, { ...entry, timeMs: opts.now, outcome: 'granted' });
}
